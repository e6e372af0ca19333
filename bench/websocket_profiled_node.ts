/**
 * Our CLI (`cli/main.ts`) that exits on SIGINT through `Deno.exit`, so a
 * `--cpu-prof` profile gets written: `broker node` in relay mode has no
 * signal handler of its own, and a process killed by the signal writes none.
 * For `bench/websocket_compare.ts`:
 * `OURS_CLI=bench/websocket_profiled_node.ts OURS_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p"`.
 *
 * @module
 */
import { main } from "../cli/main.ts";

Deno.addSignalListener("SIGINT", () => Deno.exit(130));
Deno.exit(await main(Deno.args));
