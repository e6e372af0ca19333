// A ping or pong node's start-up warm-ups, as `broker node` runs them, then
// V8's pending compilations finished and a marker printed. Run by
// warm_up_tiers_test.ts in a child process under
//   stdbuf -oL deno run -A --v8-flags=--allow-natives-syntax,--trace-opt tests/warm_up_tiers.ts
// which reads V8's trace up to the marker: what was compiled by then is
// what a node's first real ping finds.
import { Endpoint } from "../engine/endpoint.ts";
import { warmUpOnce } from "../engine/warm_up.ts";
import {
  MODE_WARM_UP_ROUND_TRIPS,
  warmUpModes,
  warmUpModesOverLoopback,
} from "../cli/node_modes.ts";

const opts = { payloadSize: 300 };
await warmUpOnce((id) => new Endpoint({ id, warmUp: false }), {
  then: (a, b) => warmUpModes(a, b, opts, MODE_WARM_UP_ROUND_TRIPS, 0),
});
await warmUpModesOverLoopback(() => new Endpoint({ warmUp: false }), opts);
// Waits for the compilations still running on background threads.
new Function("%FinalizeOptimization()")();
console.log("WARM_UPS_DONE");
