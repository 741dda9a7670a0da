/** Raises the fd limit through the runtime port; prints the result and the kernel's view of it (/proc/self/limits). */
import { readFileSync } from "node:fs";
import { loadRuntime } from "../index.ts";

const rt = await loadRuntime();
const limit = rt.raiseFileLimit();
const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files")) ?? "";
const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/);
console.log(JSON.stringify({ ...limit, kernel: { soft: Number(soft), hard: Number(hard) } }));
