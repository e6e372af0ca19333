// Two peerings over loopback TCP, one after the other, with round trips on
// each: what a `broker node` does with its start-up warm-up and then its
// real peer. Run by second_peering_test.ts in a child process under
//   deno run -A --allow-natives-syntax --v8-flags=--trace-opt,--trace-deopt-verbose \
//     tests/second_peering.ts
// which reads V8's trace: the engine's code that the first peering got
// optimised must not be thrown away by the first peering's end or the
// second's start. The script marks those two moments in that trace by
// having V8 compile a function named for them (V8 prints its compilations
// and deoptimisations on one stream, in order). With `--no-warm-up` the
// endpoints skip the engine's in-memory warm-up: what deoptimises then is
// what that warm-up covers (a first control message, a first new origin).
import { Endpoint } from "../engine/endpoint.ts";
import { count, type Data, str, vector } from "../engine/data/mod.ts";

const ROUND_TRIPS = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 1500);
const WARM_UP = !Deno.args.includes("--no-warm-up");
const TOPIC = "/second-peering";

/** Makes V8 print "compiling method ... <JSFunction name>" at this point of its trace. */
function mark(name: string): void {
  const fn = new Function(`return function ${name}() { return 1; }`)();
  fn();
  new Function("f", "%PrepareFunctionForOptimization(f)")(fn);
  fn();
  new Function("f", "%OptimizeFunctionOnNextCall(f)")(fn);
  fn();
}

async function peering(roundTrips: number, beforeEnd: () => void): Promise<void> {
  // The first endpoint runs the engine's in-memory warm-up, as a node's does.
  const pinger = new Endpoint({ warmUp: WARM_UP }), ponger = new Endpoint({ warmUp: WARM_UP });
  const port = await ponger.listen("127.0.0.1", 0);
  const pings = ponger.subscribe(TOPIC);
  const pongs = pinger.subscribe(`${TOPIC}/pong`);
  await pinger.peer("127.0.0.1", port, { retryMs: 0 });
  await Promise.all([
    pinger.awaitPeerSubscription(TOPIC),
    ponger.awaitPeerSubscription(`${TOPIC}/pong`),
  ]);
  const echo = (async () => {
    for await (const m of pings) ponger.publish(`${TOPIC}/pong`, m.data);
  })();
  const pad = "x".repeat(300);
  for (let i = 0; i < roundTrips; i++) {
    pinger.publish(TOPIC, vector(str("ping"), count(BigInt(i)), str(pad)) as Data);
    if (await pongs.get(5000) == null) throw new Error(`pong ${i} lost`);
  }
  beforeEnd();
  pings.close();
  pongs.close();
  await Promise.all([pinger.shutdown(), ponger.shutdown()]);
  await echo;
}

await peering(ROUND_TRIPS, () => mark("FIRST_PEERING_ENDS"));
await peering(ROUND_TRIPS, () => mark("SECOND_PEERING_DONE"));
console.log("done");
