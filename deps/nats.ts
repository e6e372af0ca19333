/**
 * nats.js, for the NATS comparison only (`bench/nats_compare.ts`), pinned
 * here (why a file and not an import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:nats@2.29.3";
