/**
 * A worker module for the tests of `worker_subscription_test.ts`: consumes
 * each message by posting its text form back on the worker's own channel,
 * which the tests compare with what was published. A string value `boom`
 * makes it throw; `slow` makes it wait a little first (an async consumer).
 *
 * @example
 * ```ts ignore
 * const w = new Worker(new URL("./test_consumer.ts", import.meta.url), { type: "module" });
 * ```
 *
 * @module
 */
import { dataToString } from "../data/mod.ts";
import { consumeInWorker } from "./consume.ts";

const post = (line: string) => (self as unknown as Worker).postMessage(line);

consumeInWorker(async ({ topic, data }) => {
  if (data.type === "string" && data.value === "boom") throw new Error("boom in the consumer");
  if (data.type === "string" && data.value === "slow") {
    await new Promise((r) => setTimeout(r, 2));
  }
  post(`${topic} ${dataToString(data)}`);
});
