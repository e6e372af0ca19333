// `broker cluster` as a user runs it: a child process per command line.
import assert from "node:assert/strict";
import { ClusterLayout, ClusterNode, Endpoint, Pool } from "../mod.ts";
import { addr } from "../engine/data/constructors.ts";
import { freePort } from "../tests/broker_ref.ts";
import { type CliChild, spawnCli } from "../tests/cli_child.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function broker(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-check", MAIN, "cluster", ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("cluster hrw: owners as Pool computes them, typed keys, dead nodes, layouts of every form", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/layout.caf`,
      `cluster { nodes {
        manager { type = "manager", host = "127.0.0.1", port = 27761 }
        proxy-a { type = "proxy", host = "127.0.0.1", port = 27762 }
        proxy-b { type = "proxy", host = "127.0.0.1", port = 27763 }
      } }`,
    );
    await Deno.writeTextFile(
      `${dir}/node.cfg`,
      "[manager]\ntype=manager\nhost=localhost\n[proxy-a]\ntype=proxy\nhost=localhost\n" +
        "[proxy-b]\ntype=proxy\nhost=localhost\n",
    );
    const keys = ["10.0.0.1", "", "user@example.com", "conn-1"];
    const pool = new Pool(["proxy-a", "proxy-b"]);
    const expected = keys.map((k) => `${k}\t${pool.hrwNode(k)}\t${pool.hrwTopic(k)}`).join("\n");
    const [a, b, c, typed, dead, json] = await Promise.all([
      broker("hrw", "--pool", "proxy-a,proxy-b", ...keys),
      broker("hrw", `${dir}/layout.caf`, ...keys),
      broker("hrw", `${dir}/node.cfg`, ...keys),
      broker("hrw", "--pool", "proxy-a,proxy-b", "--typed", "10.0.0.1"),
      broker("hrw", "--pool", "proxy-a,proxy-b", "--dead", "proxy-a,proxy-b", "k"),
      broker("hrw", "--pool", '["proxy-a"]', "--backend", "zeromq", "--json", "k"),
    ]);
    for (const r of [a, b, c]) {
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trimEnd(), expected);
    }
    assert.equal(
      typed.out,
      `10.0.0.1\t${pool.hrwNode(addr("10.0.0.1"))}\t${pool.hrwTopic(addr("10.0.0.1"))}\n`,
    );
    assert.equal(dead.out, "k\t-\t-\n");
    assert.deepEqual(JSON.parse(json.out), {
      key: "k",
      node: "proxy-a",
      topic: "zeek.cluster.node.proxy-a.",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster hrw: a layout's backend spells its topics (zeek.cluster.node.x. for zeromq) unless --backend says otherwise", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layout = `${dir}/zmq.json`;
    await Deno.writeTextFile(
      layout,
      JSON.stringify({
        backend: "zeromq",
        nodes: {
          manager: { type: "manager", host: "127.0.0.1", port: 27761 },
          "proxy-a": { type: "proxy", host: "127.0.0.1", port: 27762 },
        },
      }),
    );
    const [own, told] = await Promise.all([
      broker("hrw", layout, "k"),
      broker("hrw", "--backend", "broker", layout, "k"),
    ]);
    assert.equal(own.code, 0, own.err);
    assert.equal(own.out, "k\tproxy-a\tzeek.cluster.node.proxy-a.\n");
    assert.equal(told.out, "k\tproxy-a\tzeek/cluster/node/proxy-a/\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster: usage errors exit 2 with one line, before anything runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layout = `${dir}/l.json`;
    await Deno.writeTextFile(
      layout,
      JSON.stringify({ nodes: { manager: { type: "manager", host: "127.0.0.1", port: 1 } } }),
    );
    await Deno.writeTextFile(`${dir}/bad.json`, '{"nodes": {"x": {"type": "boss", "host": "h"}}}');
    const cases: [string[], RegExp][] = [
      [["hrw", "--pool", "a,a", "k"], /--pool: a appears twice/],
      [
        ["hrw", "--pool", "a", "--type", "boss", "k"],
        /--type: expected one of proxy, worker, logger/,
      ],
      [["hrw", "--pool", "a"], /<key>: give at least one key/],
      [["hrw"], /<layout>: missing/],
      [["hrw", `${dir}/nope.json`, "k"], /<layout>: cannot read/],
      [["hrw", `${dir}/bad.json`, "k"], /<layout>: .*type must be one of/],
      [["hrw", layout, "k"], /--type: the layout has no proxy nodes/],
      [["hrw", "--pool", "a", "--dead", "b", "k"], /--dead: b is not in the pool/],
      // --type picks a layout's pool; with --pool it would be ignored.
      [["hrw", "--pool", "a", "--type", "worker", "k"], /--type: picks a layout's pool/],
      [["hrw", "--pool", "a", "--typed", "5s"], /<key>: .*timespan key is not covered/],
      [
        ["hrw", "--pool", "a", "--backend", "nats", "k"],
        /--backend: expected one of broker, zeromq/,
      ],
      [["join", layout, "nobody"], /<name>: nobody is not in the layout/],
      [["join", layout, "manager", "--listen-port", "99999"], /--listen-port/],
      [["join", layout, "manager", "-l", "99999"], /--local-port: /],
      [["join", layout, "manager", "--address", "1.2.3.4.5"], /--address: /],
      [
        ["join", layout, "manager", "-l", "0", "--listen-port", "0"],
        /--listen-port: the same as --local-port: give one of them/,
      ],
      [["nodes", layout, "--timeout", "soon"], /--timeout/],
      [["nodes"], /<layout>: missing/],
      // Both peer, so both take Broker's TLS options, checked before anything runs.
      [
        ["join", layout, "manager", `--broker.ssl.certificate=${dir}/no.pem`, "--broker.ssl.key=k"],
        /cannot read certificate/,
      ],
      [
        ["nodes", layout, `--broker.ssl.cafile=${dir}/ca.pem`],
        /SSL needs broker\.ssl\.certificate and broker\.ssl\.key/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => broker(...args)));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i][0].join(" ")}: ${r.err}`);
      assert.equal(r.out, "");
      assert.equal(r.err.trimEnd().split("\n").length, 1, r.err);
      assert.match(r.err, /^broker cluster (hrw|join|nodes): /);
      assert.match(r.err, cases[i][1]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "cluster nodes: listening nodes that said hello are up, workers cannot be asked",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const obj = {
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port: freePort() },
        "proxy-1": { type: "proxy", host: "127.0.0.1", port: freePort() },
        "proxy-2": { type: "proxy", host: "127.0.0.1", port: freePort() },
        "worker-1": { type: "worker", host: "127.0.0.1" },
      },
    };
    await Deno.writeTextFile(`${dir}/l.json`, JSON.stringify(obj));
    const layout = ClusterLayout.fromObject(obj);
    const nodes: ClusterNode[] = [];
    try {
      nodes.push(await ClusterNode.join(layout, "manager"));
      nodes.push(await ClusterNode.join(layout, "proxy-1"));
      // The library's ClusterNode peers over plain TCP (our Endpoint's default), as Zeek does with
      // Broker::disable_ssl = T.
      const r = await broker(
        "nodes",
        `${dir}/l.json`,
        "--json",
        "--timeout",
        "1s",
        "--disable-ssl",
      );
      assert.equal(r.code, 0, r.err);
      const rows = r.out.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(rows.map((x) => [x.name, x.state]), [
        ["manager", "up"],
        ["proxy-1", "up"],
        ["proxy-2", "down"],
        ["worker-1", "-"],
      ]);
      assert.equal(rows[0].id, nodes[0].id);
    } finally {
      for (const n of nodes) await n.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Waits for a line of a `cluster join --json` child that says `kind` about `name`. */
async function joinSays(node: CliChild, kind: string, name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  const said = () =>
    node.out.some((l) => {
      const o = JSON.parse(l);
      return o.kind === kind && o.name === name;
    });
  while (!said()) {
    assert.ok(Date.now() < deadline, `no ${kind} ${name}: ${node.out.join("\n")}\n${node.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name:
    "cluster join and nodes run TLS by default, as Zeek (Broker::disable_ssl = F): anonymous without settings",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const obj = {
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port: freePort() },
        "proxy-1": { type: "proxy", host: "127.0.0.1", port: freePort() },
      },
    };
    const layout = `${dir}/l.json`;
    await Deno.writeTextFile(layout, JSON.stringify(obj));
    const join = (name: string) => spawnCli(["cluster", "join", layout, name, "--json"]);
    const manager = join("manager");
    const proxy = join("proxy-1");
    try {
      // The proxy dials the manager: they meet over Broker's anonymous TLS.
      await joinSays(manager, "node_up", "proxy-1");
      await joinSays(proxy, "node_up", "manager");
      const [tls, plain] = await Promise.all([
        broker("nodes", layout, "--json"),
        broker("nodes", layout, "--json", "--timeout", "300ms", "--disable-ssl"),
      ]);
      const states = (r: { out: string }) =>
        r.out.trim().split("\n").map((l) => JSON.parse(l)).map((x) => [x.name, x.state]);
      assert.equal(tls.code, 0, tls.err);
      assert.deepEqual(states(tls), [["manager", "up"], ["proxy-1", "up"]]);
      // Plain TCP does not get in.
      assert.equal(plain.code, 0, plain.err);
      assert.deepEqual(states(plain), [["manager", "down"], ["proxy-1", "down"]]);
    } finally {
      for (const n of [manager, proxy]) assert.equal((await n.stop()).status.code, 0, n.err());
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cluster join --broker.ssl.*: a node with certificates meets one that has the same",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tls = new URL("../fixtures/tls/", import.meta.url).pathname;
    const ssl = { certificate: `${tls}node.pem`, key: `${tls}node.key`, cafile: `${tls}ca.pem` };
    const dir = await Deno.makeTempDir();
    const obj = {
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port: freePort() },
        "proxy-1": { type: "proxy", host: "127.0.0.1", port: freePort() },
      },
    };
    await Deno.writeTextFile(`${dir}/l.json`, JSON.stringify(obj));
    const manager = spawnCli([
      "cluster",
      "join",
      `${dir}/l.json`,
      "manager",
      "--json",
      ...Object.entries(ssl).map(([k, v]) => `--broker.ssl.${k}=${v}`),
    ]);
    const endpoint = new Endpoint({ disableSsl: false, ssl });
    const proxy = await ClusterNode.join(ClusterLayout.fromObject(obj), "proxy-1", { endpoint });
    try {
      await joinSays(manager, "node_up", "proxy-1");
      await proxy.waitFor(["manager"], { timeoutMs: 20_000 });
    } finally {
      await proxy.close();
      await endpoint.shutdown();
      assert.equal((await manager.stop()).status.code, 0, manager.err());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
