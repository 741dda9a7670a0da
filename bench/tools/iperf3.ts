/** iperf3: a server for the whole scenario (on loopback or in a testbed namespace), and a bounded client run parsed from its -J JSON. */
import { join } from "node:path";
import type { Endpoint } from "../lib/net.ts";
import { LOOPBACK, type Place } from "../lib/place.ts";
import { runBounded, startDaemon } from "../lib/process.ts";
import type { Scope } from "../lib/scope.ts";

export async function startIperf3Server(scope: Scope, dir: string, place: Place = LOOPBACK): Promise<Endpoint> {
  const endpoint = await place.freePort();
  const daemon = await startDaemon(scope, "iperf3-server", place.exec(["iperf3", "-s", "-B", endpoint.host, "-p", String(endpoint.port)]), {
    logPath: join(dir, "iperf3-server.log"),
  });
  // A probe connection would count as a failed iperf3 test, so wait on the listen state instead.
  await place.waitForListen(endpoint, { giveUp: () => (daemon.exit() ? `iperf3 exited: ${daemon.logTail()}` : null) });
  return endpoint;
}

export interface Iperf3Result {
  /** Receiver side. */
  readonly gbitPerSec: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly retransmits: number | null;
}

export function parseIperf3(json: string): Iperf3Result {
  const data = JSON.parse(json) as {
    error?: string;
    end?: { sum_received?: { bits_per_second: number; bytes: number; seconds: number }; sum_sent?: { retransmits?: number } };
  };
  if (data.error) throw new Error(`iperf3: ${data.error}`);
  const received = data.end?.sum_received;
  if (!received) throw new Error("iperf3: no end.sum_received in its JSON");
  return {
    gbitPerSec: received.bits_per_second / 1e9,
    bytes: received.bytes,
    seconds: received.seconds,
    retransmits: data.end?.sum_sent?.retransmits ?? null,
  };
}

/** One TCP stream for durationSec seconds; killed if it is still running 20 s after that. */
export async function runIperf3Client(target: Endpoint, durationSec: number, place: Place = LOOPBACK): Promise<Iperf3Result> {
  place.target(target);
  const argv = place.exec(["iperf3", "-c", target.host, "-p", String(target.port), "-t", String(durationSec), "-P", "1", "-J", "--connect-timeout", "5000"]);
  const r = await runBounded(argv, { timeoutMs: (durationSec + 20) * 1000 });
  if (r.timedOut) throw new Error(`iperf3 client still running ${durationSec + 20} s in; killed`);
  try {
    return parseIperf3(r.stdout);
  } catch (err) {
    throw new Error(`${(err as Error).message} (exit ${r.code ?? r.signal}; stderr: ${r.stderr.trim()})`);
  }
}
