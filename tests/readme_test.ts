// The README's code runs as written: every ```ts block is a complete program,
// run in a child process (a snippet that hangs or throws fails here, not in a
// user's hands), and where the README shows what it prints, it prints that.
// Commands in ```sh blocks and `deno task` mentions name tasks that exist.
import assert from "node:assert/strict";
import { exampleModule, type FencedBlock, fencedBlocks } from "./doc_examples.ts";
import { main } from "../cli/main.ts";

const ROOT = new URL("../", import.meta.url);
const README = new URL("README.md", ROOT);
const DENO_JSON = new URL("deno.json", ROOT);
const SNIPPET_TIMEOUT_MS = 60_000;

/** A fenced block of the README, with its 1-based line. */
type Block = FencedBlock & { line: number };

/**
 * The output a ts block promises: the ```text block right after it, when
 * the prose between them (at most a short line) ends with "prints:".
 */
function promisedOutput(blocks: Block[], i: number): string | undefined {
  const next = blocks[i + 1];
  if (next?.lang !== "text") return undefined;
  return /prints:\s*$/i.test(next.before.trim()) && next.before.trim().length < 200
    ? next.code
    : undefined;
}

async function runSnippet(block: Block): Promise<{ code: number; stdout: string; stderr: string }> {
  // Its own directory, outside the tree: snippets may write files, and the
  // project's fmt/lint/test runs must not see half-written ones.
  const dir = await Deno.makeTempDir({ prefix: "readme-snippet-" });
  const file = `${dir}/snippet_line_${block.line}.ts`;
  // Relative imports point into the repository, whatever directory the snippet runs in.
  const example = { file: "README.md", name: file, line: block.line, code: block.code };
  await Deno.writeTextFile(file, exampleModule(example, README));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", new URL(DENO_JSON).pathname, file],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), SNIPPET_TIMEOUT_MS);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.signal ? -1 : out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    await Deno.remove(dir, { recursive: true });
  }
}

const markdown = await Deno.readTextFile(README);
/** Every benchmark round, moved out of the README; its commands are checked as the README's. */
const PERFORMANCE_MD = "docs/performance.md";
const performanceDoc = await Deno.readTextFile(new URL(PERFORMANCE_MD, ROOT));
const lines = markdown.split("\n");
const blocks: Block[] = fencedBlocks(lines).map((b) => ({ ...b, line: b.open + 1 }));
const unclosed = blocks.find((b) => b.close === lines.length);
if (unclosed) throw new Error(`README.md:${unclosed.line}: unclosed code block`);
const tasks = Object.keys(JSON.parse(await Deno.readTextFile(DENO_JSON)).tasks ?? {});

Deno.test("the README has ts blocks to run (the parser found them)", () => {
  const ts = blocks.filter((b) => b.lang === "ts");
  assert.ok(ts.length >= 2, `found ${ts.length} ts blocks`);
  for (const b of blocks) {
    assert.ok(
      ["ts", "sh", "text", ""].includes(b.lang),
      `README.md:${b.line}: a block in ${b.lang}, which this test neither runs nor checks`,
    );
  }
});

for (const [i, block] of blocks.entries()) {
  if (block.lang !== "ts") continue;
  const title = block.code.split("\n").find((l) => l.trim() && !l.startsWith("import")) ?? "";
  Deno.test(`README.md:${block.line} runs as written (${title.trim().slice(0, 60)})`, async () => {
    const r = await runSnippet(block);
    assert.equal(
      r.code,
      0,
      `README.md:${block.line}: exit ${r.code === -1 ? "by timeout or signal" : r.code}\n` +
        `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
    const expected = promisedOutput(blocks, i);
    if (expected !== undefined) {
      assert.equal(
        r.stdout.trimEnd(),
        expected.trimEnd(),
        `README.md:${block.line} printed something else than the README says`,
      );
    }
  });
}

Deno.test("README sh blocks and `deno task` mentions (README, docs/performance.md) name tasks that exist", () => {
  const named = new Set<string>();
  for (const b of blocks.filter((b) => b.lang === "sh")) {
    for (const line of b.code.split("\n")) {
      const cmd = line.replace(/#.*/, "").trim();
      if (!cmd) continue;
      const m = cmd.match(/^(?:npx -y )?deno task (\S+)/);
      assert.ok(m, `README.md:${b.line}: "${cmd}" is not a deno task; teach this test about it`);
      named.add(m[1]);
    }
  }
  for (const text of [markdown, performanceDoc]) {
    for (const m of text.matchAll(/`deno task ([a-z][\w:-]*)/g)) named.add(m[1]);
  }
  assert.ok(named.has("demo") && named.has("test"));
  for (const t of named) {
    assert.ok(
      tasks.includes(t),
      `README.md or ${PERFORMANCE_MD} names "deno task ${t}", not in deno.json`,
    );
  }
});

Deno.test("`deno run/bench/test` mentions in the README and docs/performance.md name files that exist", async () => {
  for (const [name, text] of [["README.md", markdown], [PERFORMANCE_MD, performanceDoc]]) {
    for (const m of text.matchAll(/`deno (?:run|bench|test) [^`]*?([\w./-]+\.ts)\b/g)) {
      const path = new URL(m[1], ROOT);
      const ok = await Deno.stat(path).then(() => true, () => false);
      assert.ok(ok, `${name} mentions ${m[0]}\`, but ${m[1]} does not exist`);
    }
  }
});

Deno.test("README's `broker` subcommands exist (their --help)", async () => {
  const listed = [...markdown.matchAll(/^- `broker ([a-z]+(?: [a-z]+)?)/gm)].map((m) => m[1]);
  assert.ok(listed.includes("node") && listed.includes("pipe"), `found ${listed}`);
  // In this process, through the CLI's own entry point (a child each took ~0.3 s of CPU).
  for (const sub of listed) {
    let help = "", err = "";
    const code = await main([...sub.split(" "), "--help"], {
      writeOut: (s) => void (help += s),
      writeErr: (s) => void (err += s),
      colorErr: false,
    });
    assert.equal(code, 0, `broker ${sub} --help: ${err}`);
    assert.match(help, new RegExp(`^Usage: broker ${sub} `, "m"), `broker ${sub} --help`);
  }
});

Deno.test("the quick start's first `deno task demo` installs nothing and warns of nothing", async () => {
  // As on a fresh clone: the tracked files alone, an empty DENO_DIR, no
  // node_modules. `deno task` installs every npm package that deno.json's
  // imports or the lockfile name before it runs a task, so this fails as
  // soon as one of them creeps back in (see deps/commander.ts).
  const root = new URL(ROOT).pathname;
  const listed = await new Deno.Command("git", { args: ["ls-files", "-z"], cwd: root }).output();
  assert.equal(listed.code, 0, "git ls-files failed");
  const dir = await Deno.makeTempDir({ prefix: "readme-demo-" });
  const denoDir = await Deno.makeTempDir({ prefix: "readme-demo-deno-dir-" });
  try {
    for (const file of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
      const to = `${dir}/${file}`;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      // A tracked file deleted in the working tree is simply not copied.
      await Deno.copyFile(`${root}${file}`, to).catch(() => {});
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "demo"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_DIR: denoDir },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(stdout, /peered/);
    assert.match(stdout, /manager got data\(\/zeek\/events\/conn/);
    assert.doesNotMatch(stderr, /Download|Initialize|Warning|build scripts/, stderr);
    assert.equal(await Deno.stat(`${dir}/node_modules`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
