/**
 * A bare store master for profiling `bench/store_compare.ts`
 * (`--master-main=bench/store_master_main.ts`): what `broker node
 * --master-stores='["kv"]' -p PORT` runs for the bench, but it ends on
 * SIGTERM by returning, so that `--cpu-prof` gets to write its profile
 * (the CLI's default signal handling ends the process at once).
 *
 * @example
 * ```sh
 * deno run -A --cpu-prof bench/store_master_main.ts -p 9999
 * ```
 *
 * @module
 */
import { Endpoint } from "../mod.ts";

if (import.meta.main) {
  const i = Deno.args.indexOf("-p");
  const port = Number(Deno.args[i + 1]);
  const ep = new Endpoint({ disableSsl: true });
  const kv = ep.attachMaster("kv");
  await ep.listen("127.0.0.1", port);
  await new Promise<void>((resolve) => {
    const stop = () => (Deno.removeSignalListener("SIGTERM", stop), resolve());
    Deno.addSignalListener("SIGTERM", stop);
  });
  kv.close();
  await ep.shutdown();
}
