/**
 * The soak's data store pair, one role per process:
 *
 * - `master`: an endpoint with a SQLite master of store `kv` (the backend's
 *   defaults: SQLite's own `synchronous` (FULL) and rollback journal, the
 *   setting whose durability the soak checks), listening on a fixed port.
 *   The chaos loop kills it with SIGKILL and starts it again on the same file.
 * - `clone`: an endpoint that dials the master with retry, attaches a clone
 *   and writes through it: `putUnique` of a new key per call (the master
 *   answers each, so an answered call is an acknowledged write), plus
 *   fire-and-forget `put`/`increment` on a few shared keys. It prints the
 *   acknowledged keys as they come.
 *
 * Both answer `dump` with every key and a digest of the content, which the
 * supervisor uses to check that no acknowledged write was lost and that the
 * clone converged to the master.
 *
 * @module
 */
import {
  BrokerError,
  count,
  dataToString,
  Endpoint,
  SqliteBackend,
  type Store,
  str,
} from "../mod.ts";
import { bindWithRetry, sleep, stopOnce } from "./child_common.ts";
import { type CloneStatsEvent, emit, readCommands, type StoreChildConfig } from "./protocol.ts";

const config: StoreChildConfig = JSON.parse(Deno.args[0]);
const STORE = "kv";
const WRITE_MS = 20;
const ACK_FLUSH_MS = 100;
const STATS_MS = 1000;
// Shared keys written blind (no answer expected); the convergence check covers them.
const BLIND_EVERY = 10;

/** Every key (as text, sorted) and a SHA-256 over `key\tvalue` lines. */
async function dump(store: Store): Promise<void> {
  const keys = await store.keys();
  const lines: [string, string][] = [];
  for (const k of keys) {
    const v = await store.get(k);
    lines.push([dataToString(k), dataToString(v)]);
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const text = lines.map(([k, v]) => `${k}\t${v}\n`).join("");
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const digest = [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
  emit({ ev: "dump", keys: lines.map(([k]) => k), digest, size: lines.length });
}

const ep = new Endpoint({ handshakeTimeoutMs: config.handshakeTimeoutMs });

if (config.role === "master") {
  // Attach before listening, so the first clone to peer finds the master there.
  const kv = ep.attachMaster(STORE, new SqliteBackend({ path: config.path! }));
  await bindWithRetry(() => ep.listen("127.0.0.1", config.port));
  emit({ ev: "ready", port: config.port, size: (await kv.keys()).length });
  const stop = stopOnce(config.deadline, async () => {
    kv.close();
    await ep.shutdown();
    Deno.exit(0);
  });
  await readCommands(async (line) => {
    if (line === "dump") await dump(kv);
  });
  await stop();
} else {
  const kv = ep.attachClone(STORE, { requestTimeoutMs: config.requestTimeoutMs });
  ep.peerNoWait("127.0.0.1", config.port, { retryMs: 500 });
  emit({ ev: "ready", port: config.port });

  const stats: CloneStatsEvent = {
    ev: "clone-stats",
    issued: 0,
    acked: 0,
    existed: 0,
    failed: {},
    blind: 0,
  };
  let inFlight = 0;
  let ackedKeys: string[] = [];
  let writing = true;
  const base = Date.now();

  const flushAcks = () => {
    if (ackedKeys.length === 0) return;
    emit({ ev: "acked", keys: ackedKeys });
    ackedKeys = [];
  };

  const write = (n: number) => {
    const key = `k${config.incarnation}-${n}`;
    stats.issued++;
    inFlight++;
    kv.putUnique(str(key), count(BigInt(n))).then(
      (inserted) => {
        stats.acked++;
        if (!inserted) stats.existed++;
        // The key text as dataToString prints it, as the master's dump lists it.
        ackedKeys.push(key);
      },
      (e) => {
        const code = e instanceof BrokerError ? e.codeName : String(e?.name ?? e);
        stats.failed[code] = (stats.failed[code] ?? 0) + 1;
      },
    ).finally(() => inFlight--);
    if (n % BLIND_EVERY === 0) {
      stats.blind += 2;
      // Fire-and-forget: Broker's clone writes resolve at once; rejections
      // (a closed store) would be bugs and are left to crash the process.
      void kv.put(str(`last-${config.incarnation}`), count(BigInt(n)));
      void kv.increment(str("hits"), count(1n));
    }
  };

  const writeTimer = setInterval(() => {
    if (!writing) return;
    const due = Math.floor(((Date.now() - base) * config.rate) / 1000) - stats.issued;
    for (let i = 0; i < due && inFlight < config.maxInFlight; i++) write(stats.issued);
  }, WRITE_MS);
  const ackTimer = setInterval(flushAcks, ACK_FLUSH_MS);
  const statsTimer = setInterval(() => emit(stats), STATS_MS);

  const stop = stopOnce(config.deadline, async () => {
    clearInterval(writeTimer);
    clearInterval(ackTimer);
    clearInterval(statsTimer);
    flushAcks();
    emit(stats);
    kv.close();
    await ep.shutdown();
    Deno.exit(0);
  });

  await readCommands(async (line) => {
    if (line === "quiesce") {
      writing = false;
      // Every call ends within the request timeout, answered or failed.
      const until = Date.now() + config.requestTimeoutMs + 2000;
      while (inFlight > 0 && Date.now() < until) await sleep(50);
      flushAcks();
      emit(stats);
      emit({ ev: "quiesced", idle: (await kv.awaitIdle(15_000)) && inFlight === 0 });
    } else if (line === "dump") {
      await dump(kv);
    }
  });
  await stop();
}
