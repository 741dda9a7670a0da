/**
 * The runtime port's contract: every adapter must pass these cases. bun.test.ts registers them
 * with bun:test, deno.contract.ts with Deno.test. Cases use node:assert so they run unchanged on
 * both runtimes. The SO_ORIGINAL_DST case is real: it builds a network namespace with iptables
 * REDIRECT rules and checks what the capture listener reports.
 */
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, runOk } from "../../test/support/command.ts";
import { eventually } from "../../test/support/eventually.ts";
import { withNetns } from "../../test/support/netns.ts";
import type { RuntimePort } from "./port.ts";

export interface ContractCase {
  readonly name: string;
  readonly needs?: { root?: boolean; commands?: readonly string[] };
  run(): Promise<void>;
}

export interface ContractEnv {
  /** argv prefix that runs a TypeScript file on this runtime with every permission. */
  readonly runScript: readonly string[];
}

const here = new URL(".", import.meta.url).pathname;

function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "mesh-rt-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export function runtimeContract(port: RuntimePort, env: ContractEnv): ContractCase[] {
  return [
    {
      name: "names itself and its version",
      run: async () => {
        assert.ok(port.name === "bun" || port.name === "deno");
        assert.match(port.version, /^\d+\.\d+\.\d+/);
        assert.ok(Array.isArray(port.argv()));
      },
    },
    {
      name: "reads the environment, also by prefix",
      run: async () => {
        process.env.MESH_CONTRACT_A = "1";
        process.env.MESH_CONTRACT_B = "two";
        try {
          assert.equal(port.env("MESH_CONTRACT_A"), "1");
          assert.equal(port.env("MESH_CONTRACT_MISSING"), undefined);
          assert.deepEqual(port.envWithPrefix("MESH_CONTRACT_"), { MESH_CONTRACT_A: "1", MESH_CONTRACT_B: "two" });
        } finally {
          delete process.env.MESH_CONTRACT_A;
          delete process.env.MESH_CONTRACT_B;
        }
      },
    },
    {
      name: "exits with the given code",
      run: async () => {
        const r = await run([...env.runScript, join(here, "testdata/exit-probe.ts"), "7"]);
        assert.equal(r.code, 7, r.stderr);
      },
    },
    {
      name: "raises the soft open-file limit to the hard limit",
      run: async () => {
        // A child whose soft limit was lowered first (Bun raises it itself at start; Deno does not).
        const probe = [...env.runScript, join(here, "testdata/file-limit-probe.ts")].map((a) => `'${a}'`).join(" ");
        const r = await run(["sh", "-c", `ulimit -Sn 256 && exec ${probe}`]);
        assert.equal(r.code, 0, r.stderr);
        const got = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
        assert.ok(got.before >= 256 && got.before <= got.soft, `limit before: ${got.before}`);
        assert.equal(got.soft, got.hard);
        assert.ok(got.soft > 256, `soft limit ${got.soft}`);
        assert.deepEqual(got.kernel, { soft: got.soft, hard: got.hard });
      },
    },
    {
      name: "SQLite: statements, parameters, transactions, durability across reopen",
      run: async () => {
        using dir = tempDir();
        const file = join(dir.path, "store.db");
        const db = port.openDatabase(file);
        db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB, n INTEGER)");
        assert.equal(db.run("INSERT INTO kv VALUES (?, ?, ?)", ["a", new Uint8Array([1, 2, 3]), 41]).changes, 1);
        db.transaction(() => {
          db.run("INSERT INTO kv VALUES (?, ?, ?)", ["b", null, 2n ** 40n]);
          db.run("UPDATE kv SET n = n + 1 WHERE k = ?", ["a"]);
        });
        assert.throws(() =>
          db.transaction(() => {
            db.run("INSERT INTO kv VALUES (?, ?, ?)", ["c", null, 0]);
            throw new Error("abort this transaction");
          }),
        );
        assert.throws(() => db.run("INSERT INTO kv VALUES (?, ?, ?)", ["a", null, 0]), /UNIQUE|constraint/i);
        assert.equal(db.get("SELECT * FROM kv WHERE k = ?", ["zzz"]), undefined);
        db.close();

        const again = port.openDatabase(file);
        const rows = again.all<{ k: string; v: Uint8Array | null; n: number }>("SELECT k, v, n FROM kv ORDER BY k");
        assert.deepEqual(rows.map((r) => [r.k, r.v === null ? null : [...r.v], Number(r.n)]), [
          ["a", [1, 2, 3], 42],
          ["b", null, 2 ** 40],
        ]);
        assert.equal(Object.values(again.get<object>("PRAGMA journal_mode") ?? {})[0], "wal");
        again.close();
      },
    },
    {
      name: "delivers a signal to a subscriber and unsubscribes",
      run: async () => {
        let count = 0;
        const off = port.onSignal("SIGUSR2", () => count++);
        try {
          process.kill(process.pid, "SIGUSR2");
          await eventually(() => assert.equal(count, 1), { what: "SIGUSR2" });
        } finally {
          off();
        }
      },
    },
    {
      name: "watches a file through writes and atomic replacement",
      run: async () => {
        using dir = tempDir();
        const file = join(dir.path, "mesh.yaml");
        writeFileSync(file, "a: 1\n");
        let changes = 0;
        const watcher = port.watchFile(file, () => changes++);
        try {
          // Some watchers start asynchronously: keep writing until one change is seen.
          await eventually(
            () => {
              writeFileSync(file, `a: ${Date.now()}\n`);
              assert.ok(changes > 0);
            },
            { what: "a write to be seen", intervalMs: 50 },
          );
          const before = changes;
          writeFileSync(join(dir.path, "next.tmp"), "a: 2\n");
          renameSync(join(dir.path, "next.tmp"), file);
          await eventually(() => assert.ok(changes > before), { what: "a rename over the file to be seen" });
        } finally {
          watcher.close();
        }
      },
    },
    {
      name: "serves HTTP with a fetch handler and closes gracefully",
      run: async () => {
        const server = await port.serveHttp({ host: "127.0.0.1", port: 0 }, async (req) => {
          const url = new URL(req.url);
          return new Response(`${req.method} ${url.pathname} ${await req.text()}`, { status: 201, headers: { "x-runtime": port.name } });
        });
        try {
          assert.ok(server.address.port > 0);
          const res = await fetch(`http://127.0.0.1:${server.address.port}/a/b`, { method: "POST", body: "payload" });
          assert.equal(res.status, 201);
          assert.equal(res.headers.get("x-runtime"), port.name);
          assert.equal(await res.text(), "POST /a/b payload");
        } finally {
          await server.close();
        }
        await assert.rejects(fetch(`http://127.0.0.1:${server.address.port}/`, { signal: AbortSignal.timeout(2000) }));
      },
    },
    {
      name: "capture listener carries bytes; a direct connection has no foreign original destination",
      run: async () => {
        const listener = await port.listenCapture({ host: "127.0.0.1", port: 0 }, (conn) => {
          assert.ok(
            conn.originalDestination === null ||
              (conn.originalDestination.address === conn.local.address && conn.originalDestination.port === conn.local.port),
            `unexpected original destination ${JSON.stringify(conn.originalDestination)}`,
          );
          conn.socket.pipe(conn.socket); // echo
        });
        try {
          const echoed = await new Promise<string>((resolve, reject) => {
            const s = net.connect(listener.address.port, "127.0.0.1", () => s.end("hello through capture"));
            let got = "";
            s.setEncoding("utf8").on("data", (d: string) => (got += d));
            s.once("error", reject).once("close", () => resolve(got));
          });
          assert.equal(echoed, "hello through capture");
        } finally {
          await listener.close();
        }
      },
    },
    {
      name: "SO_ORIGINAL_DST after an iptables REDIRECT in a network namespace (IPv4 and IPv6)",
      needs: { root: true, commands: ["ip", "iptables", "ip6tables"] },
      run: async () => {
        await withNetns("rt", async (ns) => {
          // A veth pair inside the namespace gives it routable addresses that exist nowhere else.
          await ns.sh(
            [
              "ip link add v0 type veth peer name v1",
              "ip addr add 10.250.0.1/24 dev v0",
              "ip addr add fd00:250::1/64 dev v0 nodad",
              "ip link set v0 up",
              "ip link set v1 up",
              "iptables -t nat -A OUTPUT -p tcp -d 10.250.0.7 --dport 9080 -j REDIRECT --to-ports 15001",
              "ip6tables -t nat -A OUTPUT -p tcp -d fd00:250::7 --dport 9080 -j REDIRECT --to-ports 15001",
            ].join("\n"),
          );
          const out = await runOk(
            ns.exec([...env.runScript, join(here, "testdata/capture-probe.ts"), "15001", "10.250.0.7:9080", "[fd00:250::7]:9080"]),
          );
          const results = JSON.parse(out.trim().split("\n").pop() ?? "[]");
          assert.deepEqual(results, [
            { target: "10.250.0.7:9080", originalDestination: { family: 4, address: "10.250.0.7", port: 9080 } },
            { target: "[fd00:250::7]:9080", originalDestination: { family: 6, address: "fd00:250::7", port: 9080 } },
          ]);
        });
      },
    },
  ];
}
