/**
 * How the CLI starts another copy of itself (child nodes of multi-process
 * benches), both from the sources and from the one-file bundle
 * (`deno task bundle`), where every module shares the bundle's URL.
 *
 * @module
 */

/**
 * Arguments for `Deno.execPath()` that run the `broker` CLI again.
 *
 * @example
 * ```ts
 * import { selfCommandArgs } from "./self.ts";
 * const child = new Deno.Command(Deno.execPath(), { args: [...selfCommandArgs(), "--help"] });
 * ```
 */
export function selfCommandArgs(): string[] {
  const here = import.meta.url;
  const entry = here.endsWith("/cli/self.ts") ? new URL("./main.ts", here) : new URL(here);
  return [
    "run",
    "-A",
    entry.protocol === "file:" ? decodeURIComponent(entry.pathname) : entry.href,
  ];
}
