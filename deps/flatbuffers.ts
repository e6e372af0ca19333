/**
 * The FlatBuffers runtime, for our capture format (`engine/recording/capture`),
 * pinned here (why a file and not an import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:flatbuffers@25.9.23";
