/**
 * One HBONE tunnel's throughput on loopback, lean HTTP/2 against node:http2, with real mutual TLS
 * 1.3 and the two ends in separate processes (the server is a child of this runtime), as a
 * ztunnel pair would run on two cores:
 *
 *   node_modules/.bin/bun run bench/tools/h2-throughput.ts [--gib 2] [--pairs lean:lean,node:node]
 *        [--runs 3] [--frame 1048576] [--chunk 262144]
 *
 * `--pairs tls:tls` measures a plain mutual-TLS socket pair with no HTTP/2 (the ceiling here).
 *
 * For each client:server pair and direction (upload: client → server sink; download: server
 * source → client) it prints Gbit/s and CPU seconds per GiB on each side (user + system, from
 * process.cpuUsage in each process), median of `--runs`. Traffic stays on 127.0.0.1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createTestPki } from "../../test/support/pki.ts";
import type { H2Options } from "../../src/hbone/h2/connection.ts";
import tls from "node:tls";
import type net from "node:net";
import { clientTls, connectClient, serverTlsOptions, SINK_PORT, source, SOURCE_PORT, startServer, type Impl, type TestClient, type TlsMaterial } from "../../src/hbone/h2/tunnel.test-support.ts";

const GiB = 1024 ** 3;

interface Args {
  gib: number;
  runs: number;
  pairs: Array<[Kind, Kind]>;
  options: Partial<H2Options>;
  chunk: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const options: Partial<H2Options> = {};
  if (get("frame")) Object.assign(options, { maxFrameSize: Number(get("frame")) });
  if (get("budget")) Object.assign(options, { socketBudget: Number(get("budget")) });
  if (get("hwm")) Object.assign(options, { streamHighWaterMark: Number(get("hwm")) });
  return {
    gib: Number(get("gib") ?? 2),
    runs: Number(get("runs") ?? 3),
    pairs: (get("pairs") ?? "tls:tls,lean:lean,node:node").split(",").map((p) => p.split(":") as [Kind, Kind]),
    options,
    chunk: Number(get("chunk") ?? 256 * 1024),
  };
}

/** The HTTP/2 implementations, or "tls": a bare TLS socket per transfer, no HTTP/2 at all. */
type Kind = Impl | "tls";

// ---------------------------------------------------------------- the bare TLS baseline
// A transfer is one TLS connection: the client sends "U" or "D" and a 64-bit length; for U the
// server reads that many octets and answers one octet; for D it sends that many octets.

function startTlsServer(material: TlsMaterial): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(serverTlsOptions(material), (socket) => {
    socket.on("error", () => {});
    let header: Buffer | undefined;
    let left = 0;
    const onData = (chunk: Buffer) => {
      if (!header) {
        header = chunk.subarray(0, 9);
        left = Number(header.readBigUInt64BE(1));
        if (header[0] === 0x44) {
          socket.off("data", onData);
          source(socket, left);
          return;
        }
        chunk = chunk.subarray(9);
      }
      left -= chunk.length;
      if (left <= 0) socket.end("k");
    };
    socket.on("data", onData);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) }),
    ),
  );
}

function tlsClient(material: TlsMaterial, port: number): TestClient & { transfer(direction: "U" | "D", bytes: number, chunkSize: number): Promise<void> } {
  return {
    open: () => Promise.reject(new Error("no tunnels on a bare TLS pair")),
    close: () => {},
    transfer: (direction, bytes, chunkSize) =>
      new Promise<void>((resolve, reject) => {
        const socket = clientTls(material, port);
        socket.once("error", reject);
        const header = Buffer.alloc(9);
        header[0] = direction.charCodeAt(0);
        header.writeBigUInt64BE(BigInt(bytes), 1);
        socket.write(header);
        let got = 0;
        socket.on("data", (d: Buffer) => (got += d.length));
        socket.once("end", () => {
          socket.end();
          if (direction === "D" && got !== bytes) reject(new Error(`got ${got} of ${bytes}`));
          else resolve();
        });
        if (direction === "D") return;
        const chunk = Buffer.alloc(chunkSize, 0xa5);
        let left = bytes;
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunkSize);
            left -= n;
            if (!socket.write(n === chunkSize ? chunk : chunk.subarray(0, n))) {
              socket.once("drain", pump);
              return;
            }
          }
        };
        pump();
      }),
  };
}

// ---------------------------------------------------------------- child: the server side

async function serverMain(): Promise<void> {
  const impl = process.argv[3] as Kind;
  const material = JSON.parse(process.env.H2_BENCH_TLS ?? "{}") as TlsMaterial;
  const options = JSON.parse(process.env.H2_BENCH_OPTIONS ?? "{}") as Partial<H2Options>;
  const server = impl === "tls" ? await startTlsServer(material) : await startServer(impl, material, options);
  console.log(JSON.stringify({ port: server.port }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "cpu") {
      const u = process.cpuUsage();
      console.log(JSON.stringify({ cpu: (u.user + u.system) / 1e6 }));
    } else if (line === "exit") break;
  }
  await server.close();
  process.exit(0);
}

// ---------------------------------------------------------------- parent: the client side

class ServerProcess {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(impl: Kind, material: TlsMaterial, options: Partial<H2Options>) {
    this.#child = spawn(process.execPath, ["run", fileURLToPath(import.meta.url), "--server", impl], {
      env: { ...process.env, H2_BENCH_TLS: JSON.stringify(material), H2_BENCH_OPTIONS: JSON.stringify(options) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.#lines = createInterface({ input: this.#child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  }

  async next<T>(): Promise<T> {
    const r = await this.#lines.next();
    if (r.done) throw new Error("bench server exited");
    return JSON.parse(r.value) as T;
  }

  async cpu(): Promise<number> {
    this.#child.stdin?.write("cpu\n");
    return (await this.next<{ cpu: number }>()).cpu;
  }

  stop(): void {
    this.#child.stdin?.write("exit\n");
  }
}

const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function upload(client: TestClient, bytes: number, chunkSize: number): Promise<void> {
  const { stream } = await client.open(`127.0.0.1:${SINK_PORT}`);
  const done = new Promise<void>((resolve, reject) => {
    stream.once("end", resolve);
    stream.once("error", reject);
  });
  stream.resume();
  const chunk = Buffer.alloc(chunkSize, 0xa5);
  for (let left = bytes; left > 0; left -= chunkSize) {
    if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r));
  }
  stream.end();
  await done;
}

async function download(client: TestClient, bytes: number): Promise<void> {
  const { stream } = await client.open(`127.0.0.1:${SOURCE_PORT}`, { "x-bytes": String(bytes) });
  stream.end();
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    stream.on("data", (d: Buffer) => (got += d.length));
    stream.once("end", () => (got === bytes ? resolve() : reject(new Error(`got ${got} of ${bytes}`))));
    stream.once("error", reject);
  });
}

interface Sample {
  gbps: number;
  clientCpuPerGiB: number;
  serverCpuPerGiB: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const args = parseArgs(process.argv);
  const pki = await createTestPki();
  const s = await pki.issue("spiffe://cluster.local/ns/bench/sa/server");
  const c = await pki.issue("spiffe://cluster.local/ns/bench/sa/client");
  const material: TlsMaterial = { serverCert: s.chain.join("\n"), serverKey: s.keyPem, clientCert: c.chain.join("\n"), clientKey: c.keyPem, ca: pki.roots };
  const bytes = Math.round(args.gib * GiB);
  console.log(`one tunnel, ${args.gib} GiB per run, median of ${args.runs}, options ${JSON.stringify(args.options)}, chunk ${args.chunk}`);
  for (const [clientImpl, serverImpl] of args.pairs) {
    const server = new ServerProcess(serverImpl, material, args.options);
    const { port } = await server.next<{ port: number }>();
    const bare = clientImpl === "tls" ? tlsClient(material, port) : undefined;
    const client = bare ?? connectClient(clientImpl as Impl, material, port, args.options);
    const up = (n: number) => (bare ? bare.transfer("U", n, args.chunk) : upload(client, n, args.chunk));
    const down = (n: number) => (bare ? bare.transfer("D", n, args.chunk) : download(client, n));
    await up(256 * 1024 * 1024); // warm-up: TLS, JIT, windows
    for (const direction of ["upload", "download"] as const) {
      const samples: Sample[] = [];
      for (let run = 0; run < args.runs; run++) {
        const c0 = ownCpu();
        const s0 = await server.cpu();
        const t0 = performance.now();
        if (direction === "upload") await up(bytes);
        else await down(bytes);
        const seconds = (performance.now() - t0) / 1000;
        const c1 = ownCpu();
        const s1 = await server.cpu();
        samples.push({ gbps: (bytes * 8) / seconds / 1e9, clientCpuPerGiB: (c1 - c0) / (bytes / GiB), serverCpuPerGiB: (s1 - s0) / (bytes / GiB) });
      }
      const g = median(samples.map((x) => x.gbps));
      console.log(
        `${clientImpl}→${serverImpl} ${direction.padEnd(8)} ${g.toFixed(2)} Gbit/s (runs ${samples.map((x) => x.gbps.toFixed(2)).join(" ")})  CPU s/GiB: client ${median(samples.map((x) => x.clientCpuPerGiB)).toFixed(2)}, server ${median(samples.map((x) => x.serverCpuPerGiB)).toFixed(2)}`,
      );
    }
    client.close();
    server.stop();
  }
  process.exit(0);
}

if (process.argv[2] === "--server") await serverMain();
else await main();
