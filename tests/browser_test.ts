// The browser entry point in a real browser: `deno task bundle:browser`
// builds dist/broker-browser.js, a page served from 127.0.0.1 loads it in
// headless Chromium (Debian's `chromium`), connects to an endpoint's
// WebSocket API, subscribes, receives what the endpoint publishes and
// publishes back. The page reports each step to the test server, so the test
// sees exactly how far it got.
import assert from "node:assert/strict";
import { count, dataToString, Endpoint, str, vector } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BUNDLE = `${ROOT}dist/broker-browser.js`;

/** Chromium's path, or a failure that says how to get it (never a silent pass). */
async function findChromium(): Promise<string> {
  const fromEnv = Deno.env.get("CHROMIUM");
  const candidates = fromEnv ? [fromEnv] : [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    candidates.push(`${dir}/chromium`, `${dir}/chromium-browser`);
  }
  for (const c of candidates) {
    if (await Deno.stat(c).then((s) => s.isFile, () => false)) return c;
  }
  throw new Error(
    "chromium not found ($CHROMIUM, or chromium / chromium-browser on the PATH): the browser " +
      "test needs Debian's chromium: apt-get update && apt-get install -y chromium (.ci/run does)",
  );
}

function page(wsUrl: string): string {
  // Plain JS in the page: it imports the bundle as any web page would.
  return `<!doctype html>
<meta charset="utf-8">
<title>deno-broker in a browser</title>
<pre id="log"></pre>
<script type="module">
import {
  BrokerError, connectWebSocket, count, dataFromJson, dataToJson, dataToString, decode, encode,
  str, vector,
} from "./broker-browser.js";
const report = (line) => {
  document.getElementById("log").textContent += line + "\\n";
  return fetch("/report", { method: "POST", body: line });
};
try {
  const client = await connectWebSocket(${JSON.stringify(wsUrl)}, ["/page/in"], { reconnectMs: 0 });
  await report("connected " + client.endpoint);
  client.publish("/page/out", vector(str("hello"), count(1n)));
  const m = await client.get(20000);
  if (!m) throw new Error("nothing received");
  await report("received " + m.topic + " " + dataToString(m.data));
  client.publish("/page/out", str("page got " + dataToString(m.data)));
  const v = vector(count(18446744073709551615n), str("grüße"));
  await report("json " + dataToString(dataFromJson(dataToJson(v))));
  await report("binary " + dataToString(decode(encode(v))));
  try {
    dataFromJson("{");
  } catch (e) {
    await report("error class " + (e instanceof BrokerError));
  }
  await report("done");
} catch (e) {
  await report("failed " + (e && e.stack || e));
}
</script>
`;
}

Deno.test("the browser bundle in headless Chromium: connect, subscribe, receive, publish", {
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const chromium = await findChromium();

  const built = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bundle:browser"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(built.code, 0, `bundle:browser failed: ${new TextDecoder().decode(built.stderr)}`);
  const bundle = await Deno.readTextFile(BUNDLE);
  // One self-contained file: nothing left to fetch, nothing for Deno or Node.
  assert.doesNotMatch(bundle, /from\s*["'](?:node:|npm:|jsr:|https?:)/);
  assert.doesNotMatch(bundle, /\bDeno\./);

  const ep = new Endpoint();
  const ws = await ep.listenWebSocket("127.0.0.1", 0);
  const fromPage = ep.subscribe("/page/out");

  const reports: string[] = [];
  let wake = () => {};
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") {
      return new Response(page(`ws://127.0.0.1:${ws.port}`), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (path === "/broker-browser.js") {
      return new Response(bundle, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/report" && req.method === "POST") {
      reports.push(await req.text());
      wake();
      return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  });
  const waitFor = async (prefix: string, ms = 30_000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (true) {
      const hit = reports.find((r) => r.startsWith(prefix) || r.startsWith("failed"));
      if (hit?.startsWith("failed")) throw new Error(`the page failed: ${hit}`);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`no "${prefix}" from the page in ${ms} ms; it reported: ${reports}`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
  };

  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const browser = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${http.addr.port}/`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const browserLog = browser.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  (async () => {
    for (let r = await browserLog.read(); !r.done; r = await browserLog.read()) stderr += r.value;
  })();
  try {
    const connected = await waitFor("connected ");
    assert.equal(connected, `connected ${ep.id}`, "the page got the endpoint's ack");
    // The page's first publish arrives here: it subscribed, got the ack, published.
    const hello = await fromPage.get(20_000);
    assert.ok(hello, "the endpoint got nothing from the page");
    assert.equal(dataToString(hello.data), "(hello, 1)");
    // The endpoint's own publish reaches its WebSocket clients (Broker's behaviour).
    ep.publish("/page/in", vector(str("from the endpoint"), count(42n)));
    assert.equal(await waitFor("received "), "received /page/in (from the endpoint, 42)");
    const echo = await fromPage.get(20_000);
    assert.equal(echo && dataToString(echo.data), "page got (from the endpoint, 42)");
    assert.equal(
      await waitFor("json "),
      "json (18446744073709551615, grüße)",
      "the data model round-trips through Broker's JSON in the page",
    );
    assert.equal(await waitFor("binary "), "binary (18446744073709551615, grüße)");
    assert.equal(await waitFor("error class "), "error class true");
    await waitFor("done");
  } catch (e) {
    throw new Error(`${(e as Error).message}\nchromium stderr:\n${stderr.slice(-4000)}`);
  } finally {
    // SIGTERM lets Chromium take its helper processes down with it.
    browser.kill("SIGTERM");
    const killer = setTimeout(() => browser.kill("SIGKILL"), 5000);
    await browser.status;
    clearTimeout(killer);
    await http.shutdown();
    await ep.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});

// The browser entry point imports nothing that needs Deno or Node.
Deno.test("browser.ts's import graph has no node:, npm: or Deno-only modules", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${ROOT}browser.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; local?: string }[];
  };
  const specs = info.modules.map((m) => m.specifier);
  assert.ok(specs.length > 5, `found ${specs}`);
  for (const s of specs) assert.match(s, /^file:\/\//, `browser.ts pulls in ${s}`);
  for (const m of info.modules) {
    const code = await Deno.readTextFile(new URL(m.specifier));
    const uses = code.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "").match(/\bDeno\.\w+/);
    assert.equal(uses, null, `${m.specifier} uses ${uses?.[0]}`);
  }
  // The client and the data model the README promises are exported.
  const mod = await import("../browser.ts");
  for (const name of ["connectWebSocket", "count", "dataToJson", "dataFromJson", "dataToString"]) {
    assert.equal(typeof (mod as Record<string, unknown>)[name], "function", name);
  }
  assert.equal(typeof mod.BrokerError, "function");
});
