// Zeek 8.2.2 computes Cluster::hrw_topic and Cluster::rr_topic for the same
// pools and keys as our Pool, and must agree key for key.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  clusterTopics,
  count,
  type Data,
  integer,
  Pool,
  port,
  real,
  rrLogTopic,
  subnet,
  timestamp,
} from "../mod.ts";
import type { HrwKey } from "../mod.ts";
import { zeekBin, zeekPrints, zeekStringLiteral } from "./zeek_tool.ts";

const POOLS = [
  ["proxy-1", "proxy-2"],
  ["proxy-1", "proxy-2", "proxy-3"],
  ["p-a", "p-b", "p-c", "p-d", "p-e"],
  ["proxy-98419", "proxy-835102"], // site IDs of name.0 collide
];
const enc = new TextEncoder();
const STRING_KEYS = [
  "",
  "a",
  "10.0.0.1",
  "ünïcødé ✓ 🎉",
  "long key ".repeat(2000),
  ...Array.from({ length: 300 }, (_, i) => `conn-${i * 7919}`),
];
// Typed keys: our Data and the Zeek literal of the same value.
const TYPED: [HrwKey, string][] = [
  [count(0n), "0"],
  [count(42n), "42"],
  [count(18446744073709551615n), "18446744073709551615"],
  [integer(-5n), "-5"],
  [bool(true), "T"],
  [real(1.5), "1.5"],
  [timestamp(1_500_000_000n), "double_to_time(1.5)"],
  [addr("10.0.0.1"), "10.0.0.1"],
  [addr("2001:db8::1"), "[2001:db8::1]"],
  // IPv4-compatible (first 96 bits zero, 7th group not): Zeek writes them as
  // glibc's inet_ntop does, ::1.2.3.4, where RFC 5952 text is ::102:304.
  [addr("::1.2.3.4"), "[::1.2.3.4]"],
  [addr("::1:2"), "[::1:2]"],
  [addr("::2"), "[::2]"],
  [addr("::1:0:0"), "[::1:0:0]"],
  [subnet("192.168.0.0/16"), "192.168.0.0/16"],
  [subnet("::1.2.3.0/120"), "[::1.2.3.0]/120"],
  [subnet("2001:db8::/32"), "[2001:db8::]/32"],
  [port(443, "tcp"), "443/tcp"],
  [port(53, "udp"), "53/udp"],
  [port(8, "icmp"), "8/icmp"],
  [{ type: "zeek_enum", enumType: "Cluster::NodeType", value: "Cluster::PROXY" }, "Cluster::PROXY"],
];

Deno.test({
  name: "Zeek's Cluster::hrw_topic and rr_topic agree with Pool key for key",
  sanitizeResources: false,
  fn: async () => {
    const lines: string[] = [
      "@load base/frameworks/cluster",
      "module Cluster;",
      "event zeek_init() {",
    ];
    const expected: string[] = [];
    POOLS.forEach((names, pi) => {
      const pool = new Pool(names);
      lines.push(`local p${pi} = Pool();`);
      for (const n of names) {
        lines.push(`init_pool_node(p${pi}, "${n}"); mark_pool_node_alive(p${pi}, "${n}");`);
      }
      const emit = (tag: string, zeekExpr: string, ours: string) => {
        lines.push(`print fmt("${pi} ${tag} %s", ${zeekExpr});`);
        expected.push(`${pi} ${tag} ${ours}`);
      };
      const all = (phase: string) => {
        STRING_KEYS.forEach((k, ki) => {
          emit(
            `${phase}s${ki}`,
            `hrw_topic(p${pi}, ${zeekStringLiteral(enc.encode(k))})`,
            pool.hrwTopic(k),
          );
        });
        TYPED.forEach(([k, lit], ki) => {
          emit(`${phase}t${ki}`, `hrw_topic(p${pi}, ${lit})`, pool.hrwTopic(k as Data));
        });
        for (let i = 0; i < names.length + 2; i++) {
          emit(`${phase}rr${i}`, `rr_topic(p${pi}, "")`, pool.rrTopic(""));
        }
      };
      all("up");
      // Failover: the first node dies, then all of them.
      lines.push(`mark_pool_node_dead(p${pi}, "${names[0]}");`);
      pool.markDead(names[0]);
      all("dead1");
      for (const n of names) {
        lines.push(`mark_pool_node_dead(p${pi}, "${n}");`);
        pool.markDead(n);
      }
      emit("none", `hrw_topic(p${pi}, "x") + "|" + rr_topic(p${pi}, "")`, "|");
    });
    lines.push("}");
    const got = await zeekPrints(lines);
    assert.equal(got.length, expected.length);
    for (let i = 0; i < got.length; i++) assert.equal(expected[i], got[i]);
  },
});

Deno.test({
  name: "Zeek's topic names per cluster backend (slashes on Broker, dots on ZeroMQ) are ours",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (const backend of ["broker", "zeromq"] as const) {
        await Deno.writeTextFile(
          `${dir}/${backend}.zeek`,
          `@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/${backend}
event zeek_init()
	{
	print Cluster::manager_topic, Cluster::logger_topic, Cluster::proxy_topic,
	      Cluster::worker_topic, Cluster::node_topic("worker-1"), Cluster::nodeid_topic("ID"),
	      Cluster::proxy_pool_spec$topic, Cluster::worker_pool_spec$topic,
	      Cluster::logger_pool_spec$topic;
	terminate();
	}
`,
        );
        const out = await new Deno.Command(zeekBin(), {
          args: ["-b", `${dir}/${backend}.zeek`],
          cwd: dir,
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(20_000),
        }).output();
        const t = clusterTopics(backend);
        const ours = [
          t.typeTopic.manager,
          t.typeTopic.logger,
          t.typeTopic.proxy,
          t.typeTopic.worker,
          t.nodeTopic("worker-1"),
          t.nodeidTopic("ID"),
          t.poolTopic.proxy,
          t.poolTopic.worker,
          t.poolTopic.logger,
        ].join(", ");
        assert.equal(new TextDecoder().decode(out.stdout).trim(), ours);
        assert.equal(
          new Pool(["worker-1"], { backend }).hrwTopic("k"),
          t.nodeTopic("worker-1"),
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Zeek's own node in its pool: alive for round-robin, not an HRW site (as our self option)",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // Port 1 on the manager: nothing listens, the proxy's dial fails harmlessly.
      await Deno.writeTextFile(
        `${dir}/cluster-layout.zeek`,
        `redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=1/tcp],
	["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $manager="manager"],
	["proxy-2"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $manager="manager"],
};\n`,
      );
      await Deno.writeTextFile(
        `${dir}/self.zeek`,
        `@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/broker
redef Broker::disable_ssl = T;
module Cluster;
event zeek_init() &priority=-20
	{
	print hrw_topic(proxy_pool, "k") == "", rr_topic(proxy_pool, ""), rr_topic(proxy_pool, ""),
	      proxy_pool$alive_count;
	mark_pool_node_alive(proxy_pool, "proxy-2");
	print hrw_topic(proxy_pool, "k"), rr_topic(proxy_pool, ""), rr_topic(proxy_pool, "");
	terminate();
	}
`,
      );
      const out = await new Deno.Command(zeekBin(), {
        args: ["-b", "self.zeek"],
        cwd: dir,
        env: { CLUSTER_NODE: "proxy-1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(20_000),
      }).output();
      const pool = new Pool(["proxy-1", "proxy-2"], { alive: false, self: "proxy-1" });
      const ours = [
        [pool.hrwTopic("k") === "" ? "T" : "F", pool.rrTopic(), pool.rrTopic(), pool.aliveCount],
        (pool.markAlive("proxy-2"), [pool.hrwTopic("k"), pool.rrTopic(), pool.rrTopic()]),
      ].map((l) => l.join(", ")).join("\n");
      assert.equal(new TextDecoder().decode(out.stdout).trim(), ours);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Zeek's Cluster::rr_log_topic agrees with rrLogTopic: loggers in turn, then the default log topic",
  sanitizeResources: false,
  fn: async () => {
    const names = ["logger-1", "logger-2", "logger-3"];
    const loggers = new Pool(names);
    const lines = ["@load base/frameworks/cluster", "module Cluster;", "event zeek_init() {"];
    const expected: string[] = [];
    // Zeek's default log topic is made of the stream's ID; its path does not enter.
    const emit = (id: string, pool = loggers) => {
      lines.push(`print rr_log_topic(${id}, "some_path");`);
      expected.push(rrLogTopic(pool, id));
    };
    // Before any logger is in the pool, then with all alive, then one dead, then none.
    emit("Cluster::LOG", new Pool([]));
    for (const n of names) {
      lines.push(`init_pool_node(logger_pool, "${n}"); mark_pool_node_alive(logger_pool, "${n}");`);
    }
    for (let i = 0; i < 5; i++) emit(i % 2 ? "Broker::LOG" : "Cluster::LOG");
    lines.push(`mark_pool_node_dead(logger_pool, "logger-2");`);
    loggers.markDead("logger-2");
    for (let i = 0; i < 3; i++) emit("Cluster::LOG");
    for (const n of names) {
      lines.push(`mark_pool_node_dead(logger_pool, "${n}");`);
      loggers.markDead(n);
    }
    emit("Broker::LOG");
    lines.push("}");
    assert.deepEqual(await zeekPrints(lines), expected);
  },
});
