/**
 * `broker store`: one operation on a data store from the shell. It peers
 * with the endpoint(s) given, attaches a clone of the named store, runs the
 * operation through it (reads from the clone's copy, writes to the master),
 * prints the result, and exits: 0 on success, 1 with a one-line error.
 *
 * Keys and values are strings by default, or Broker's JSON with `--json`
 * (e.g. `'{"@data-type":"count","data":5}'`); results print in Broker's text
 * form, or as Broker's JSON with `--json`.
 *
 * @module
 */
import { addSslOptions, endpointSslOptions, type SslCliValues } from "./ssl_options.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  BrokerError,
  type Data,
  dataFromJson,
  dataToJson,
  dataToString,
  Endpoint,
  type Store,
  str,
} from "../mod.ts";
import { type HostPort, parsePeerList } from "./pipe_command.ts";

/** The operations and how many arguments each takes after the store name. */
export const STORE_OPERATIONS: Readonly<Record<string, [min: number, max: number]>> = {
  get: [1, 1],
  exists: [1, 1],
  keys: [0, 0],
  put: [2, 2],
  "put-unique": [2, 2],
  erase: [1, 1],
  clear: [0, 0],
  increment: [1, 2],
  decrement: [1, 2],
  insert: [2, 3],
  remove: [2, 2],
  push: [2, 2],
  pop: [1, 1],
};

/** Parses one command-line argument into a value. */
export function parseStoreArg(text: string, json: boolean): Data {
  return json ? dataFromJson(text) : str(text);
}

/** Prints a value the way the chosen output form wants it. */
export function formatStoreValue(v: Data, json: boolean): string {
  return json ? dataToJson(v) : dataToString(v);
}

/**
 * Runs one operation on a store handle and returns the lines to print.
 *
 * @example
 * ```ts ignore
 * const lines = await runStoreOperation(store, "get", ["key"], false);
 * ```
 */
export async function runStoreOperation(
  s: Store,
  op: string,
  args: string[],
  json: boolean,
  expiryMs?: number,
): Promise<string[]> {
  const arity = STORE_OPERATIONS[op];
  if (!arity) {
    throw new Error(
      `unknown operation '${op}' (one of ${Object.keys(STORE_OPERATIONS).join(", ")})`,
    );
  }
  if (args.length < arity[0] || args.length > arity[1]) {
    throw new Error(
      `'${op}' takes ${
        arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`
      } argument(s)`,
    );
  }
  const v = args.map((a) => parseStoreArg(a, json));
  const w = expiryMs === undefined ? {} : { expiry: expiryMs };
  switch (op) {
    case "get":
      return [formatStoreValue(await s.get(v[0]), json)];
    case "exists":
      return [(await s.exists(v[0])) ? "T" : "F"];
    case "keys":
      return (await s.keys()).map((k) => formatStoreValue(k, json));
    case "put":
      await s.put(v[0], v[1], w);
      break;
    case "put-unique":
      return [(await s.putUnique(v[0], v[1], w)) ? "T" : "F"];
    case "erase":
      await s.erase(v[0]);
      break;
    case "clear":
      await s.clear();
      break;
    case "increment":
      await s.increment(v[0], v[1], w);
      break;
    case "decrement":
      await s.decrement(v[0], v[1], w);
      break;
    case "insert":
      await s.insertInto(v[0], v[1], v[2], w);
      break;
    case "remove":
      await s.removeFrom(v[0], v[1], w);
      break;
    case "push":
      await s.push(v[0], v[1], w);
      break;
    case "pop":
      await s.pop(v[0], w);
      break;
  }
  // Writes go to the master: wait until they are handed over.
  await s.awaitIdle();
  return [];
}

/** Options of `broker store` as commander hands them over. */
export interface StoreCliValues extends SslCliValues {
  /** `--peers`, as given. */
  peers?: string;
  /** `--json`, as given. */
  json?: boolean;
  /** `--expiry`, as given. */
  expiry?: string;
  /** `--timeout`, as given. */
  timeout?: string;
}

/** Registers `broker store`. */
export function registerStoreCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("store")
    .description(
      `one operation on a data store through a clone: ${Object.keys(STORE_OPERATIONS).join(", ")}`,
    )
    .argument("<name>", "the store's name")
    .argument("<operation>", "what to do")
    .argument("[args...]", "keys and values (strings, or Broker's JSON with --json)")
    .option("-p, --peers <list>", "where the master is reachable, e.g. '[\"127.0.0.1:9999\"]'")
    .option("--json", "read arguments and print results in Broker's JSON")
    .option("--expiry <ms>", "expiry of written keys, in milliseconds")
    .option("--timeout <ms>", "how long to wait for the master (default 10000)")
    .option("--disable-ssl", "use unencrypted communication (the default without a certificate)");
  addSslOptions(command)
    .action(async (name: string, op: string, args: string[], cli: StoreCliValues) => {
      const enc = new TextEncoder();
      const say = (l: string) => Deno.stdout.writeSync(enc.encode(l + "\n"));
      const fail = (m: string) => {
        Deno.stderr.writeSync(enc.encode(`broker store: ${m}\n`));
        setExitCode(1);
      };
      let peers: HostPort[];
      try {
        peers = cli.peers ? parsePeerList(cli.peers) : [];
      } catch (e) {
        return fail((e as Error).message);
      }
      if (peers.length === 0) return fail("no peers given (-p): a clone needs a master to reach");
      let ep: Endpoint;
      try {
        ep = new Endpoint(endpointSslOptions(cli));
      } catch (e) {
        return fail((e as Error).message);
      }
      try {
        for (const p of peers) await ep.peer(p.host, p.port, { retry: 0 });
        const store = ep.attachClone(name, { requestTimeout: Number(cli.timeout ?? 10_000) });
        const lines = await runStoreOperation(
          store,
          op,
          args,
          !!cli.json,
          cli.expiry === undefined ? undefined : Number(cli.expiry),
        );
        for (const l of lines) say(l);
        store.close();
        setExitCode(0);
      } catch (e) {
        fail(
          e instanceof BrokerError
            ? `${e.codeName}: ${e.message}`
            : String((e as Error).message ?? e),
        );
      } finally {
        await ep.shutdown();
      }
    });
}
