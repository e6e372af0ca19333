import assert from "node:assert/strict";
import { BrokerError } from "../errors.ts";
import { ClusterLayout } from "./layout.ts";

const JSON_LAYOUT = {
  nodes: {
    manager: { type: "manager", host: "127.0.0.1", port: 27761 },
    "logger-1": { type: "logger", host: "127.0.0.1", port: 27762 },
    "proxy-2": { type: "proxy", host: "127.0.0.1", port: 27764 },
    "proxy-1": { type: "proxy", host: "127.0.0.1", port: 27763 },
    "worker-1": { type: "worker", host: "10.0.0.5" },
  },
};

Deno.test("JSON layout: Zeek's connection pattern (setup-connections, Broker backend)", () => {
  const l = ClusterLayout.fromJson(JSON.stringify(JSON_LAYOUT));
  const names = (name: string) => l.connections(name).map((n) => n.name);
  assert.deepEqual(names("manager"), ["logger-1"]);
  assert.deepEqual(names("logger-1"), []);
  assert.deepEqual(names("proxy-1"), ["logger-1", "manager"]);
  // Loggers, proxies sorted by name (nodes_with_type), then the manager.
  assert.deepEqual(names("worker-1"), ["logger-1", "proxy-1", "proxy-2", "manager"]);
  assert.equal(l.node("worker-1").port, 0);
  assert.equal(l.node("worker-1").manager, "manager");
  assert.deepEqual(l.poolMembers("proxy"), ["proxy-1", "proxy-2"]);
  assert.deepEqual(l.poolMembers("logger"), ["logger-1", "manager"]);
  assert.deepEqual(
    ClusterLayout.fromObject({ ...JSON_LAYOUT, managerIsLogger: false }).poolMembers("logger"),
    ["logger-1"],
  );
  // A list form and Zeek's field names read the same.
  const list = ClusterLayout.fromObject({
    nodes: [
      { name: "manager", node_type: "Cluster::MANAGER", ip: "127.0.0.1", p: "27761/tcp" },
      { name: "worker-1", type: "worker", host: "127.0.0.1" },
    ],
  });
  assert.equal(list.node("manager").port, 27761);
  assert.deepEqual(list.connections("worker-1").map((n) => n.name), ["manager"]);
  assert.deepEqual(ClusterLayout.fromJson(JSON.stringify(l.toJSON())).nodes, l.nodes);
});

Deno.test("bad layouts are BrokerErrors naming the problem", () => {
  const bad = (obj: unknown, re: RegExp) =>
    assert.throws(() => ClusterLayout.fromObject(obj), (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.match(e.message, re);
      return true;
    });
  bad({ nodes: { a: { type: "boss", host: "h" } } }, /type must be one of/);
  bad({ nodes: { a: { type: "worker", host: "h", port: 70000 } } }, /bad port/);
  bad({ nodes: { a: { type: "worker" } } }, /needs a host/);
  bad({ nodes: { a: { type: "worker", host: "h", manager: "m" } } }, /m is not a manager/);
  bad({ nodes: 3 }, /list or a map/);
  bad({ nodes: {}, backend: "nats" }, /backend/);
  assert.throws(() => ClusterLayout.fromJson("{"), /not JSON/);
  assert.throws(() => ClusterLayout.fromObject(JSON_LAYOUT).node("nobody"), /not a valid node/);
});

Deno.test("node.cfg: ZeekControl's ports (control first), lb_procs, localhost", () => {
  const l = ClusterLayout.fromNodeCfg(`
# a comment
[logger-1]
type=logger
host=localhost

[manager]
type=manager
host=localhost

[proxy-1]
type=proxy
host=localhost

[worker-1]
type=worker
host=192.168.1.2
interface=eth0
lb_method=custom
lb_procs=2

[worker-2]
type=worker
host=localhost
`);
  assert.deepEqual(
    l.nodes.map((n) => [n.name, n.type, n.host, n.port, n.manager ?? null]),
    [
      ["manager", "manager", "127.0.0.1", 27761, null],
      ["logger-1", "logger", "127.0.0.1", 27762, null],
      ["proxy-1", "proxy", "127.0.0.1", 27763, "manager"],
      ["worker-1-1", "worker", "192.168.1.2", 27764, "manager"],
      ["worker-1-2", "worker", "192.168.1.2", 27765, "manager"],
      ["worker-2", "worker", "127.0.0.1", 27766, "manager"],
    ],
  );
  assert.equal(l.managerIsLogger, false);
  assert.equal(
    ClusterLayout.fromNodeCfg("[m]\ntype=manager\nhost=h\n", { zeekPort: 30000 }).node("m").port,
    30001,
  );
  assert.throws(() => ClusterLayout.fromNodeCfg("[w]\ntype=worker\n"), /no host/);
  assert.throws(() => ClusterLayout.fromNodeCfg("[w]\ntype=worker\nhost=h\n"), /no manager/);
  assert.throws(() => ClusterLayout.fromNodeCfg("[z]\ntype=standalone\nhost=h\n"), /standalone/);
  assert.throws(
    () => ClusterLayout.fromNodeCfg("[m]\ntype=manager\nhost=h\nlb_procs=2\n"),
    /only for worker/,
  );
});
