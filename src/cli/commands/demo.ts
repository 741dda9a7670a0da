/** `mesh demo`: a local demo mesh on loopback, no root needed. */
import { basename } from "node:path";
import type { RuntimePort } from "../../runtime/port.ts";
import type { Command } from "../command.ts";
import { DEMO, startDemoMesh } from "../demo/demo-mesh.ts";
import { CHECK_STEPS, curlCommand, INTRO_STEPS, runStep, stepTitle, WAYPOINT_STEPS } from "../demo/walkthrough.ts";
import { runUntilSignal } from "../wait-for-signal.ts";

/** How to run this same mesh executable again: the compiled binary itself, or bun/deno with the entry point. */
function selfCommand(rt: RuntimePort): string {
  const exe = process.execPath;
  const name = basename(exe).replace(/\.exe$/, "");
  if (name !== "bun" && name !== "deno") return exe;
  const entry = process.argv.find((a) => a.endsWith("main.ts"));
  return entry ? `${exe} ${name === "deno" ? "run -A --unstable-ffi" : "run"} ${entry}` : `${rt.name} src/main.ts`;
}

export const demoCommand: Command = {
  name: "demo",
  summary: "run a local demo mesh on loopback (control plane, two ztunnels, sample workloads)",
  options: [{ name: "check", type: "bool", description: "run the walk-through non-interactively and exit non-zero if a step misbehaves" }],
  run: async ({ rt, options, logs, out, err }) => {
    const check = options.check === true;
    const accessLogs: Record<string, string[]> = { "node-1": [], "node-2": [], waypoint: [] };
    let showAccess = true;
    const mesh = await startDemoMesh(rt, {
      format: logs.format,
      log: (source, line) => {
        if (line.includes("connection complete") || line.includes("request complete")) {
          accessLogs[source]?.push(line);
          if (showAccess) err(`  [${source}] ${line}\n`);
        } else if (/ (warn|error) /.test(line) || line.includes('"level":"warn"') || line.includes('"level":"error"')) err(`  [${source}] ${line}\n`);
      },
    });
    out(`mesh demo: control plane on ${DEMO.controlPlane}, ztunnels node-1 ${DEMO.nodes["node-1"]} and node-2 ${DEMO.nodes["node-2"]} (SOCKS5 :${DEMO.socksPort}),\n`);
    out(`  productpage ${DEMO.workloads.productpage}:${DEMO.productpagePort} and reviews v1-v3 on node-2 behind a waypoint (${DEMO.waypoint.replica}); sleep ${DEMO.workloads.sleep} and notsleep ${DEMO.workloads.notsleep} on node-1\n\n`);
    const failures: string[] = [];
    let n = 0;
    try {
      for (const step of check ? CHECK_STEPS : [...INTRO_STEPS, ...WAYPOINT_STEPS]) {
        out(`${++n}. ${stepTitle(step)}\n`);
        // A split step sends hundreds of requests: their access-log lines would bury the story.
        showAccess = step.kind !== "split";
        const report = await runStep(mesh, step, (node) => accessLogs[node] ?? []);
        out(`   ${report.ok ? "ok" : "FAILED"}: ${report.detail}\n`);
        if (!report.ok) failures.push(`step ${n}: ${stepTitle(step)}: ${report.detail}`);
      }
      if (check) {
        out(failures.length === 0 ? `\ndemo check passed: ${n} steps\n` : `\ndemo check FAILED:\n${failures.map((f) => `  ${f}\n`).join("")}`);
        return failures.length === 0 ? 0 : 1;
      }
      out(`\nThe policy is in place. Try it yourself (access logs appear below):\n`);
      out(`  ${curlCommand("sleep")}      # 200\n`);
      out(`  ${curlCommand("notsleep")}   # refused: curl exit 97\n`);
      out(`  ${curlCommand("sleep", "reviews")}          # through the waypoint: reviews-v1 (80 %), v2 or v3 (10 % each)\n`);
      out(`  ${curlCommand("sleep", "reviews", { "end-user": "jason" })}   # jason always gets reviews-v2\n`);
      out(`  curl http://${DEMO.waypoint.admin}:15000/config_dump    # the waypoint's listeners and filter chain\n`);
      out(`  curl http://${DEMO.nodes["node-1"]}:15000/config_dump     # node-1's workloads, policies, certificates, connections\n`);
      out(`  curl http://${DEMO.nodes["node-2"]}:15020/metrics         # istio_tcp_* metrics\n`);
      out(`  ${selfCommand(rt)} get authorizationpolicies --server http://${DEMO.controlPlane}:15014 --admin-token-file ${mesh.dataDir}/control-plane/admin-token\n`);
      out(`\nCtrl-C stops everything and removes ${mesh.dataDir}.\n`);
      showAccess = true;
      return await runUntilSignal(rt, logs.logger("demo"), async () => {});
    } finally {
      showAccess = false;
      await mesh.stop();
    }
  },
};
