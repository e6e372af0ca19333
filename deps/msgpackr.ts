/**
 * msgpackr, for the codec benchmark only (`bench/codec_bench.ts`), pinned
 * here (why a file and not an import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:msgpackr@2.1.4";
