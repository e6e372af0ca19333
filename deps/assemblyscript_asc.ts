/**
 * The AssemblyScript compiler, for building the WASM codec only
 * (`codec-wasm/build.ts`, also run by its freshness test), pinned here (why
 * a file and not an import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:assemblyscript@0.28.20/asc";
export { default } from "npm:assemblyscript@0.28.20/asc";
