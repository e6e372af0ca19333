// Pool.hrwTopic on the per-event path of a worker: string keys (connection
// UIDs and addresses), 3 and 5 proxies. Each iteration is 1,024 calls, so
// calls/s = 1024 / (time per iteration).
import { Pool } from "../mod.ts";

const KEYS = Array.from(
  { length: 1024 },
  (_, i) => i % 2 ? `C${(i * 2654435761 >>> 0).toString(36)}x${i}` : `10.${i >> 8}.${i & 255}.7`,
);
const pool3 = new Pool(["proxy-1", "proxy-2", "proxy-3"]);
const pool5 = new Pool(["proxy-1", "proxy-2", "proxy-3", "proxy-4", "proxy-5"]);
let sink = 0;

Deno.bench("hrwTopic, 3 proxies, 1,024 string keys", { group: "hrw", baseline: true }, () => {
  for (let i = 0; i < KEYS.length; i++) sink += pool3.hrwTopic(KEYS[i]).length;
});

Deno.bench("hrwTopic, 5 proxies, 1,024 string keys", { group: "hrw" }, () => {
  for (let i = 0; i < KEYS.length; i++) sink += pool5.hrwTopic(KEYS[i]).length;
});

Deno.bench("rrTopic, 5 proxies, 1,024 calls", { group: "hrw" }, () => {
  for (let i = 0; i < KEYS.length; i++) sink += pool5.rrTopic().length;
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
