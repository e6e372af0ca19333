/**
 * Data stores: the store protocol's commands, storage backends, the master's
 * operation semantics and the reliable channel that carries store traffic.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyCommand, decodeCommand, encodeCommand, MemoryBackend, NIL_ENTITY } from "./mod.ts";
 * import { count, dataToString, str } from "../data/mod.ts";
 * const wire = encodeCommand({
 *   seq: 2n,
 *   sender: NIL_ENTITY,
 *   receiver: NIL_ENTITY,
 *   content: { type: "add", key: str("a"), value: count(41n), initType: "count", expiry: null, publisher: NIL_ENTITY },
 * });
 * const backend = new MemoryBackend();
 * const { content } = decodeCommand(wire);
 * if (content.type === "add") applyCommand(backend, content, 0n, NIL_ENTITY);
 * equal(dataToString(backend.get(str("a"))!), "41");
 * ```
 *
 * @module
 */
export * from "./entity.ts";
export * from "./commands.ts";
export { dataKey } from "./data_key.ts";
export type { StoreBackend, StoreEntry } from "./backend.ts";
export { MemoryBackend } from "./memory_backend.ts";
export {
  SqliteBackend,
  type SqliteBackendOptions,
  type SqliteFailureMode,
  type SqliteJournalMode,
  sqliteOptionsFromBroker,
  type SqliteSynchronous,
} from "./sqlite_backend.ts";
export * from "./operations.ts";
export * from "./channel.ts";
export * from "./events.ts";
export * from "./options.ts";
