/**
 * `deno task demo`: two endpoints peer over TCP on 127.0.0.1 and exchange
 * Zeek-shaped events on a topic, printing what each sees in Broker's text form.
 *
 * @module
 */
import {
  addr,
  count,
  type Data,
  dataToString,
  Endpoint,
  enumValue,
  Event,
  port,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";

function connRecord(i: number): Data {
  return vector(
    timestamp(1700000000123456789n + BigInt(i) * 1_000_000n),
    str(`CHhAvVGS1DHFjwGM${i}`),
    vector(addr("192.168.1.100"), port(49152 + i, "tcp"), addr("93.184.216.34"), port(443, "tcp")),
    enumValue("tcp"),
    timespan(2345678901n),
    count(1024n * BigInt(i + 1)),
    set(str("tunnel-b"), str("tunnel-a")),
  );
}

const sensor = new Endpoint();
const manager = new Endpoint();
const statuses = manager.statusSubscriber();
const listenPort = await manager.listen("127.0.0.1", 0);
console.log(`manager ${manager.id} listens on 127.0.0.1:${listenPort}`);
const events = manager.subscribe("/zeek/events/");
const replies = sensor.subscribe("/zeek/replies/");

await sensor.peer("127.0.0.1", listenPort, { retryMs: 0 });
console.log(
  `sensor  ${sensor.id} peered; manager saw ${(await statuses.get(1000))?.codeName}, ` +
    `${(await statuses.get(1000))?.codeName}`,
);
await sensor.awaitPeerSubscription("/zeek/events/conn");
await manager.awaitPeerSubscription("/zeek/replies/ack");

for (let i = 0; i < 3; i++) {
  sensor.publish(
    "/zeek/events/conn",
    new Event("connection_established", [connRecord(i)]).toData(),
  );
}
for (let i = 0; i < 3; i++) {
  const m = (await events.get(2000))!;
  console.log(`manager got data(${m.topic}, ${dataToString(m.data)})`);
  const { name } = Event.from(m.data);
  manager.publish("/zeek/replies/ack", new Event("ack", [str(name), count(BigInt(i))]).toData());
}
for (let i = 0; i < 3; i++) {
  const m = (await replies.get(2000))!;
  console.log(`sensor  got data(${m.topic}, ${dataToString(m.data)})`);
}

await sensor.shutdown();
console.log(`manager saw: ${(await statuses.get(1000))?.codeName}`);
await manager.shutdown();
