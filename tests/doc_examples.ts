/**
 * The code examples of the project's documentation (fenced `ts` blocks in JSDoc
 * comments and in Markdown), found as `deno test --doc` finds them, and
 * made into modules that run them as it does: the example's code, its
 * relative imports and `import.meta.url` taken as if it lay beside the file
 * it documents, and that file imported first.
 *
 * Why not `deno test --doc`: it runs each example as a module of its own in
 * a fresh isolate. On the project's 2-core VMs a fresh isolate costs
 * ~0.25 s of CPU (~20,000 page faults), so the 539 examples took ~240 s of
 * CPU, half of the whole test suite, for 8 s of examples. Here they share
 * one isolate (`doc_examples_test.ts`); `deno check --doc-only` still
 * type-checks each one as a module of its own (the `test` task).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { docExamples } from "./doc_examples.ts";
 * const fence = "`".repeat(3); // spelled out: this very comment is read for examples
 * const src = `/**\n * ${fence}ts\n * const x = 1;\n * ${fence}\n *` + "/\nexport const y = 2;\n";
 * const [ex] = docExamples("y.ts", src);
 * equal(ex.name, "y.ts#2-5.ts");
 * equal(ex.code, "const x = 1;");
 * ```
 *
 * @module
 */

/** One code example. */
export interface DocExample {
  /** Path of the documented file, relative to the project root. */
  file: string;
  /** `deno test --doc`'s name for it: `file#open-end.ts` (fence lines, 1-based, end exclusive). */
  name: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The code, comment prefixes (` * `) removed. */
  code: string;
}

/** Languages `deno test --doc` runs (a block without one is not run). */
const LANGS = new Set([
  "js",
  "javascript",
  "mjs",
  "cjs",
  "jsx",
  "ts",
  "typescript",
  "mts",
  "cts",
  "tsx",
]);

/**
 * The examples in `text`, the content of `file`: fenced blocks in a
 * language above and without the `ignore` attribute, in JSDoc comments
 * (`/** ... *\/`) of a script, or anywhere in a Markdown file.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { docExamples } from "./doc_examples.ts";
 * const f = "`".repeat(3);
 * equal(docExamples("a.md", `${f}ts ignore\nx\n${f}\n${f}sh\nls\n${f}\n`).length, 0);
 * ```
 */
export function docExamples(file: string, text: string): DocExample[] {
  const lines = text.split("\n");
  if (file.endsWith(".md")) return fencedExamples(file, lines, 0);
  const out: DocExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].indexOf("/**");
    if (open < 0 || lines[i].includes("*/", open + 3)) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end].includes("*/")) end++;
    const body = lines.slice(i + 1, end).map((l) => l.replace(/^\s*\* ?/, ""));
    out.push(...fencedExamples(file, body, i + 1));
    i = end;
  }
  return out;
}

/** Fenced examples in `lines`, the first of which is line `offset + 1` of `file`. */
function fencedExamples(file: string, lines: string[], offset: number): DocExample[] {
  return fencedBlocks(lines)
    .filter((b) => LANGS.has(b.lang) && !b.attrs.includes("ignore"))
    .map((b) => {
      const line = offset + b.open + 1;
      return { file, name: `${file}#${line}-${offset + b.close + 2}.ts`, line, code: b.code };
    });
}

/** A block between ``` fences. */
export interface FencedBlock {
  /** The word after the opening fence ("" for none), and the words after that. */
  lang: string;
  attrs: string[];
  /** The lines between the fences. */
  code: string;
  /** 0-based lines of the opening and the closing fence (`lines.length` when it is missing). */
  open: number;
  close: number;
  /** The lines between the previous block (or the start) and this one. */
  before: string;
}

/**
 * The ``` fenced blocks of `lines` (Markdown, or a comment's lines without
 * their ` * `), in order; fences may be indented, and blocks do not nest.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { fencedBlocks } from "./doc_examples.ts";
 * const f = "`".repeat(3);
 * const [b] = fencedBlocks(["Run:", `${f}sh ignore`, "ls", f]);
 * deepEqual(b, { lang: "sh", attrs: ["ignore"], code: "ls", open: 1, close: 3, before: "Run:" });
 * ```
 */
export function fencedBlocks(lines: string[]): FencedBlock[] {
  const out: FencedBlock[] = [];
  let prose = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    let close = i + 1;
    while (close < lines.length && !/^\s*```\s*$/.test(lines[close])) close++;
    out.push({
      lang: open[1],
      attrs: open[2].trim().split(/\s+/).filter((a) => a !== ""),
      code: lines.slice(i + 1, close).join("\n"),
      open: i,
      close,
      before: lines.slice(prose, i).join("\n"),
    });
    prose = close + 1;
    i = close;
  }
  return out;
}

/**
 * The module that runs `example`, documenting the file at `fileUrl`: its
 * code on the lines it has in that file (so that a failure's stack names
 * the documented line), its relative specifiers and `import.meta.url`
 * resolved against `fileUrl`, and an import of that file (a script's
 * example runs after the module it documents, as `deno test --doc` imports
 * it). Throws on other uses of `import.meta`, which it could not answer as
 * the documented file would.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exampleModule } from "./doc_examples.ts";
 * const m = exampleModule(
 *   { file: "a/b.ts", name: "a/b.ts#1-4.ts", line: 1, code: 'import { x } from "./c.ts";' },
 *   new URL("file:///p/a/b.ts"),
 * );
 * equal(m, '\nimport { x } from "file:///p/a/c.ts";\nimport "file:///p/a/b.ts";\n');
 * ```
 */
export function exampleModule(example: DocExample, fileUrl: URL): string {
  if (/import\.meta(?!\.url\b)/.test(example.code)) {
    throw new Error(`${example.name}: only import.meta.url can be resolved for an example`);
  }
  const resolve = (_match: string, lead: string, _q: string, spec: string) =>
    `${lead}${JSON.stringify(new URL(spec, fileUrl).href)}`;
  const code = example.code.split("\n").map((line) => {
    // Static imports only where a declaration is (not in a string that shows one).
    if (/^\s*(import|export)\b|^\s*\}\s*from\b/.test(line)) {
      line = line.replace(/(\bfrom\s*|^\s*import\s*)(["'])(\.\.?\/[^"']*)\2/g, resolve);
    }
    return line.replace(/(\bimport\(\s*)(["'])(\.\.?\/[^"']*)\2/g, resolve)
      .replaceAll("import.meta.url", JSON.stringify(fileUrl.href));
  }).join("\n");
  const self = example.file.endsWith(".md") ? "" : `import ${JSON.stringify(fileUrl.href)};\n`;
  return "\n".repeat(example.line) + code + "\n" + self;
}
