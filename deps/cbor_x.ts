/**
 * cbor-x, for the codec benchmark only (`bench/codec_bench.ts`), pinned here
 * (why a file and not an import-map entry: see `deps/commander.ts`). Its
 * native helper cbor-extract is pinned by package.json's `overrides`.
 *
 * @module
 */
export * from "npm:cbor-x@1.6.9";
