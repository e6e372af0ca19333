/**
 * CPU time of processes and threads from Linux's `/proc/<pid>/stat`, for the
 * benches that report CPU per message beside rates (rates swing with the
 * shared cores, CPU per message much less), and memory from
 * `/proc/<pid>/status`.
 *
 * Reading another process's stat needs `deno run -A`.
 *
 * @module
 */

/** Linux's USER_HZ: the unit of the times in a stat line. */
export const CLK_TCK = 100;

/**
 * utime + stime, in clock ticks, of a `/proc/.../stat` line (process or
 * thread; the command name may hold spaces and parentheses).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statTicks } from "./proc_stat.ts";
 * const line = "7 (a (b) c) S 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0";
 * equal(statTicks(line), 15);
 * ```
 */
export function statTicks(line: string): number {
  const f = statFields(line);
  return Number(f[11]) + Number(f[12]);
}

// The fields after the command name, from the state (field 3) on: field k is at k - 3.
function statFields(line: string): string[] {
  return line.slice(line.lastIndexOf(")") + 2).split(" ");
}

/**
 * Minor page faults of a `/proc/.../stat` line: pages of fresh memory
 * touched (on this VM ~11 µs each), which reused buffers avoid.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statMinorFaults } from "./proc_stat.ts";
 * equal(statMinorFaults("7 (a (b) c) S 1 7 7 0 -1 0 321 0 0 0 12 3 0 0 20 0"), 321);
 * ```
 */
export function statMinorFaults(line: string): number {
  return Number(statFields(line)[7]);
}

/**
 * The CPU a process's main thread (or a thread) last ran on, from a stat
 * line: where the scheduler looks first when it wakes the thread again.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statProcessor } from "./proc_stat.ts";
 * const rest = Array.from({ length: 40 }, (_, i) => i + 3).join(" ");
 * equal(statProcessor(`7 (a (b) c) ${rest}`), 39);
 * ```
 */
export function statProcessor(line: string): number {
  return Number(statFields(line)[36]);
}

/**
 * The command name of a stat line (a thread's name, for a thread's stat).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statName } from "./proc_stat.ts";
 * equal(statName("7 (worker-1) S 1"), "worker-1");
 * ```
 */
export function statName(line: string): string {
  return line.slice(line.indexOf("(") + 1, line.lastIndexOf(")"));
}

/**
 * CPU time (user + system) of a process so far, in ms (10 ms resolution).
 * Throws when its stat cannot be read (gone, or no permission).
 *
 * @example
 * ```ts ignore
 * // Needs `deno run -A`: Deno reads /proc/<pid>/stat only with every permission.
 * import { procCpuMs } from "./proc_stat.ts";
 * procCpuMs("self") >= 0; // true
 * ```
 */
export function procCpuMs(pid: number | "self"): number {
  return statTicks(Deno.readTextFileSync(`/proc/${pid}/stat`)) * (1000 / CLK_TCK);
}

/**
 * A memory field of a `/proc/.../status` text (`VmRSS`, resident now, or
 * `VmHWM`, its peak), in bytes; undefined when the text has none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statusBytes } from "./proc_stat.ts";
 * const text = "Name:\tdeno\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
 * equal(statusBytes(text, "VmRSS"), 1024 * 1024);
 * equal(statusBytes(text, "VmHWM"), 2048 * 1024);
 * equal(statusBytes("Name:\tdeno\n", "VmRSS"), undefined);
 * ```
 */
export function statusBytes(text: string, field: "VmRSS" | "VmHWM"): number | undefined {
  const kib = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}
