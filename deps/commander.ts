/**
 * Commander with typed options, for the CLI (`cli/`), pinned here.
 *
 * npm packages are re-exported from files like this one rather than mapped
 * to `npm:` specifiers in deno.json's `imports`: `deno task` installs every
 * npm package the import map (or the lockfile) names before it runs any
 * task, so a first `deno task demo` would fetch the CLI's, the tests' and
 * the benchmarks' packages. Behind a local file, a package is fetched only
 * when a module graph imports it.
 *
 * @module
 */
export * from "npm:@commander-js/extra-typings@15.1.0";
