/**
 * fast-check, for the property tests, pinned here (why a file and not an
 * import-map entry: see `deps/commander.ts`).
 *
 * @module
 */
export * from "npm:fast-check@4.10.2";
export { default } from "npm:fast-check@4.10.2";
