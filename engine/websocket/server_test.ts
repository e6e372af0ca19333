import assert from "node:assert/strict";

Deno.test("a WebSocket server closed before its endpoint is no longer kept by the endpoint", async () => {
  // The endpoint kept every server it had started until its own shutdown, so
  // a listener restarted (listenWebSocket, close) over and over grew it by
  // ~11 KB a cycle. gc() needs --expose-gc, so this runs in a child process.
  const endpoint = new URL("../endpoint.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--v8-flags=--expose-gc",
      `
      import { Endpoint } from ${JSON.stringify(endpoint)};
      const ep = new Endpoint({ warmUp: false });
      const open = await ep.listenWebSocket("127.0.0.1", 0);
      // In a function of its own, so that no suspended frame here holds the last one.
      const restart = async () => {
        const s = await ep.listenWebSocket("127.0.0.1", 0);
        await s.close();
        return new WeakRef(s);
      };
      const closed = [];
      for (let i = 0; i < 20; i++) closed.push(await restart());
      const alive = () => closed.filter((r) => r.deref() !== undefined).length;
      // Each collection in a task of its own (a WeakRef read keeps its target
      // to the end of the task): a bounded number of rounds.
      const tick = () => new Promise((r) => setTimeout(r, 0));
      for (let i = 0; i < 20; i++) {
        await tick();
        globalThis.gc();
        await tick();
        if (alive() === 0) break;
      }
      console.log(JSON.stringify({ alive: alive(), open: open.port > 0 }));
      await ep.shutdown();
      `,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { alive, open } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(open, true);
  assert.equal(alive, 0, "closed servers still reachable from the endpoint");
});
