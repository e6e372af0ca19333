/**
 * HdrHistogramJS, for `broker bench`'s latency histograms, pinned here (why a
 * file and not an import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:hdr-histogram-js@3.0.1";
