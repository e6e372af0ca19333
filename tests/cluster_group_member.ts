// A load-balanced group member in its own process, for cluster_group_test.ts:
// peers with 127.0.0.1:PORT, joins GROUP (heartbeats every HEARTBEAT ms), and prints what it receives as
// `r <seq>,<seq>,...` lines, each batch written before it is acknowledged
// (so an acknowledged message is always on stdout).
import { Endpoint, GroupMember } from "../mod.ts";

const [port, group, heartbeat] = Deno.args;
const endpoint = new Endpoint();
const member = new GroupMember(endpoint, group, { heartbeatMs: Number(heartbeat ?? 100) });
await endpoint.peer("127.0.0.1", Number(port), { retryMs: 0 });
const enc = new TextEncoder();
Deno.stdout.writeSync(enc.encode(`ready ${member.id}\n`));
let batch: { seq: number; ack: () => void }[] = [];
const flush = () => {
  if (batch.length === 0) return;
  const line = `r ${batch.map((m) => m.seq).join(",")}\n`;
  const bytes = enc.encode(line);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  for (const m of batch) m.ack();
  batch = [];
};
setInterval(flush, 10);
for await (const msg of member) {
  batch.push(msg);
  if (batch.length >= 500) flush();
}
