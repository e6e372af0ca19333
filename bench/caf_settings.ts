/**
 * CAF scheduler settings the benches try for the C++ tools, each on every
 * C++ process of a measurement; the best of them is the base of the ratios
 * (issue 16: compare against the best C++ configuration found). By default
 * CAF starts one worker thread per core in each process, so two processes
 * on two shared cores oversubscribe them: a single worker thread was faster
 * on this machine (peering event_2: 150-200k vs 80-140k msgs/s default; a
 * `broker-node` store master: put 75-86k vs 64-66k ops/s default, in
 * alternating runs).
 *
 * @example
 * ```ts
 * import { CPP_CONFIGS } from "./caf_settings.ts";
 * for (const { label, args } of CPP_CONFIGS) console.log(label, args.join(" "));
 * ```
 *
 * @module
 */

/** One CAF scheduler setting: a label for the tables, and the C++ tool's arguments for it. */
export interface CafSetting {
  /** How the tables name it ("default", "1 thread", ...). */
  label: string;
  /** Arguments for a Broker tool (`broker-node`, `broker-throughput`). */
  args: string[];
}

/** The settings tried, CAF's default first. */
export const CPP_CONFIGS: readonly CafSetting[] = [
  { label: "default", args: [] },
  { label: "1 thread", args: ["--caf.scheduler.max-threads=1"] },
  {
    label: "1 thread, sharing",
    args: ["--caf.scheduler.max-threads=1", "--caf.scheduler.policy=sharing"],
  },
];

/**
 * The settings a bench's `--cxx-settings` asks for: `all` (every one) or
 * `default` (CAF's default only, e.g. to compare with runs made before the
 * settings were tried); anything else throws.
 *
 * @example
 * ```ts
 * import { cafSettingsFor } from "./caf_settings.ts";
 * if (cafSettingsFor("default").length !== 1) throw new Error("one setting");
 * ```
 */
export function cafSettingsFor(option: string): readonly CafSetting[] {
  if (option === "all") return CPP_CONFIGS;
  if (option === "default") return CPP_CONFIGS.slice(0, 1);
  throw new Error(`--cxx-settings: all or default, not ${option}`);
}
