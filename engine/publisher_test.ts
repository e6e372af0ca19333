import assert from "node:assert/strict";
import { evalWithGc } from "../tests/gc_eval.ts";

Deno.test("a publisher dropped without close stops counting as open once collected, as a destroyed Broker publisher", async () => {
  // The endpoint held every publisher it made until the next publisher()
  // call, and kept the unclosed ones for good: code that made a publisher
  // per request and let it go grew the endpoint (and broker_local_publishers)
  // by one each. gc() needs --expose-gc, so this runs in a child process.
  const endpoint = new URL("./endpoint.ts", import.meta.url).href;
  const { made, left } = await evalWithGc<{ made: number; left: number; kept: number }>(
    `
      import { Endpoint } from ${JSON.stringify(endpoint)};
      const ep = new Endpoint({ warmUp: false });
      const open = () =>
        ep.metricFamilies().find((f) => f.name === "broker_local_publishers").samples[0].value;
      const kept = [ep.publisher("/kept")];
      for (let i = 0; i < 100; i++) ep.publisher("/dropped/" + i).publish({ type: "count", value: 1n });
      const made = open();
      await collectUntil(() => open() === 1);
      console.log(JSON.stringify({ made, left: open(), kept: kept.length }));
      await ep.shutdown();
      `,
  );
  assert.equal(made, 101);
  assert.equal(left, 1, "only the publisher still referenced is open");
});
