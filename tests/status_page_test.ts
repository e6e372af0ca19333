// The live status page (`GET /` on the metrics port) in a real browser:
// headless Chromium (Debian's `chromium`) loads it from a running node with
// a peer and traffic, and the test reads the DOM it renders over the
// DevTools protocol: the node's ID, a row per peer, a non-zero data rate,
// the subscriptions and the stores. A screenshot goes to
// dist/status-page.png (dist/ is not in git) for people to look at.
import assert from "node:assert/strict";
import { count, Endpoint, str } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

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
    "chromium not found ($CHROMIUM, or chromium / chromium-browser on the PATH): the status " +
      "page test needs Debian's chromium: apt-get update && apt-get install -y chromium",
  );
}

/** A minimal DevTools protocol client: one page, request and response by id. */
class DevTools {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (m: { result?: unknown; error?: unknown }) => void>();
  #next = 1;
  readonly open: Promise<void>;
  constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.open = new Promise((resolve, reject) => {
      this.#ws.onopen = () => resolve();
      this.#ws.onerror = (e) => reject(new Error(`DevTools socket: ${(e as ErrorEvent).message}`));
    });
    this.#ws.onmessage = (e) => {
      const m = JSON.parse(e.data as string);
      if (m.id !== undefined) this.#pending.get(m.id)?.(m);
    };
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 10_000);
      this.#pending.set(id, (m) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        if (m.error) reject(new Error(`${method}: ${JSON.stringify(m.error)}`));
        else resolve(m.result);
      });
    });
  }
  close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((r) => {
      this.#ws.onclose = () => r();
      this.#ws.close();
    });
  }
}

const READ_DOM = `JSON.stringify({
  id: document.getElementById("node-id").textContent,
  peers: [...document.querySelectorAll("#peers tbody tr.peer")].map((r) => ({
    status: r.dataset.status,
    cells: [...r.cells].map((c) => c.textContent),
  })),
  rate: Number(document.querySelector('#rates tr[data-type="data"]')?.dataset.rate ?? 0),
  subscriptions: [...document.querySelectorAll("#subscriptions li")].map((l) => l.textContent),
  stores: [...document.querySelectorAll("#stores tbody tr")].map((r) => r.cells[0].textContent),
  error: document.getElementById("error").textContent,
  chartPoints: Number(document.getElementById("chart").dataset.points ?? 0),
})`;

interface PageState {
  id: string;
  peers: { status: string; cells: string[] }[];
  rate: number;
  subscriptions: string[];
  stores: string[];
  error: string;
  chartPoints: number;
}

Deno.test("the status page in headless Chromium shows the node, its peers and a live rate", {
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const chromium = await findChromium();
  const node = new Endpoint({ metricsPort: 0 });
  const peer = new Endpoint();
  const port = await node.listen("127.0.0.1", 0);
  const http = await node.metricsReady!;
  const sub = node.subscribe("/traffic");
  const kv = node.attachMaster("inventory");
  await kv.put(str("k"), count(1n));
  await peer.peer("127.0.0.1", port, { retryMs: 0 });
  await peer.awaitPeerSubscription("/traffic");
  // Traffic while the page polls: 20 messages every 20 ms.
  let i = 0;
  const traffic = setInterval(() => {
    for (let k = 0; k < 20; k++) peer.publish("/traffic/x", count(BigInt(i++)));
    sub.poll();
  }, 20);

  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const browser = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--remote-debugging-port=0",
      "--window-size=1000,900",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${http}/`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const { promise: devtools, resolve: devtoolsPort } = Promise.withResolvers<number>();
  (async () => {
    const reader = browser.stderr.pipeThrough(new TextDecoderStream()).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      stderr += r.value;
      const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) devtoolsPort(Number(m[1]));
    }
  })();
  let cdp: DevTools | undefined;
  try {
    const dt = await Promise.race([
      devtools,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("no DevTools port")), 20_000)),
    ]);
    let target: { webSocketDebuggerUrl: string } | undefined;
    for (let k = 0; k < 100 && !target; k++) {
      const list = await (await fetch(`http://127.0.0.1:${dt}/json/list`)).json() as {
        type: string;
        url: string;
        webSocketDebuggerUrl: string;
      }[];
      target = list.find((t) => t.type === "page" && t.url.startsWith(`http://127.0.0.1:${http}`));
      if (!target) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(target, "Chromium opened no page on the status page's URL");
    cdp = new DevTools(target.webSocketDebuggerUrl);
    await cdp.open;
    let state: PageState | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await cdp.send("Runtime.evaluate", { expression: READ_DOM, returnByValue: true });
      if (r.result?.type === "string") {
        state = JSON.parse(r.result.value);
        if (state!.peers.length > 0 && state!.rate > 0 && state!.chartPoints >= 2) break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(state, "the page never rendered");
    assert.equal(state.error, "", "the page polled the status API without errors");
    assert.equal(state.id, node.id);
    assert.equal(state.peers.length, 1, JSON.stringify(state.peers));
    assert.equal(state.peers[0].status, "peered");
    assert.equal(state.peers[0].cells[0], peer.id, "the peer row names the peer");
    assert.ok(state.rate > 0, `data rate on the page: ${state.rate}`);
    assert.ok(state.subscriptions.includes("/traffic"), JSON.stringify(state.subscriptions));
    assert.deepEqual(state.stores, ["inventory"]);
    assert.ok(state.chartPoints >= 2, "the chart draws a line of rates");
    const shot = await cdp.send("Page.captureScreenshot", { format: "png" });
    await Deno.mkdir(`${ROOT}dist`, { recursive: true });
    const png = Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0));
    await Deno.writeFile(`${ROOT}dist/status-page.png`, png);
    assert.ok(png.length > 1000, "a screenshot");
  } catch (e) {
    throw new Error(`${(e as Error).message}\nchromium stderr:\n${stderr.slice(-3000)}`);
  } finally {
    clearInterval(traffic);
    await cdp?.close().catch(() => {});
    browser.kill("SIGTERM");
    const killer = setTimeout(() => browser.kill("SIGKILL"), 5000);
    await browser.status;
    clearTimeout(killer);
    kv.close();
    await peer.shutdown();
    await node.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
