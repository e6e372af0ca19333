/**
 * Reads a cluster layout file for `broker cluster`: JSON (`.json`, or text
 * that starts with `{` and parses as JSON), ZeekControl's `node.cfg` (INI
 * sections: a file named `node.cfg`, `.cfg`, or text that starts with
 * `[`), or CAF's config syntax (anything else), where the nodes sit under
 * `nodes` (or `cluster.nodes`), one section per node:
 *
 * ```
 * cluster {
 *   backend = "broker"
 *   nodes {
 *     manager { type = "manager", host = "127.0.0.1", port = 27761 }
 *     worker-1 { type = "worker", host = "127.0.0.1" }
 *   }
 * }
 * ```
 *
 * @module
 */
import { BrokerError, ClusterLayout, ErrorCode } from "../mod.ts";
import { type ConfigValue, parseCafConfig } from "./caf_config.ts";

/** A CAF value as a plain JS value (integers as numbers). */
function plain(v: ConfigValue): unknown {
  switch (v.type) {
    case "integer":
      return Number(v.value);
    case "list":
      return v.value.map(plain);
    case "dictionary":
      return Object.fromEntries([...v.value].map(([k, x]) => [k, plain(x)]));
    case "uri":
      return v.value.text;
    default:
      return v.value;
  }
}

/**
 * A layout from CAF config text: `nodes.<name>.<field>` (or under `cluster.`).
 *
 * @example
 * ```ts
 * import { layoutFromCaf } from "./cluster_layout_file.ts";
 * const l = layoutFromCaf('nodes { manager { type = "manager", host = "127.0.0.1", port = 27761 } }');
 * l.node("manager").port; // 27761
 * ```
 */
export function layoutFromCaf(text: string, source = "cluster layout"): ClusterLayout {
  const cfg = parseCafConfig(text, { source });
  const obj: { nodes: Record<string, Record<string, unknown>>; [k: string]: unknown } = {
    nodes: {},
  };
  for (const [key, value] of cfg.values) {
    const path = key.startsWith("cluster.") ? key.slice("cluster.".length) : key;
    if (path === "backend" || path === "managerIsLogger" || path === "manager-is-logger") {
      obj[path === "backend" ? "backend" : "managerIsLogger"] = plain(value);
      continue;
    }
    if (!path.startsWith("nodes.")) continue;
    const rest = path.slice("nodes.".length);
    const dot = rest.lastIndexOf(".");
    if (dot < 0) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `${source}: ${key}: expected nodes.<name>.<field>`,
      );
    }
    (obj.nodes[rest.slice(0, dot)] ??= {})[rest.slice(dot + 1)] = plain(value);
  }
  return ClusterLayout.fromObject(obj, source);
}

/**
 * Parses layout text by its form (see the module doc); `path` names it in errors.
 *
 * @example
 * ```ts
 * import { parseLayoutText } from "./cluster_layout_file.ts";
 * parseLayoutText("[manager]\ntype=manager\nhost=localhost\n", "node.cfg").node("manager").port; // 27761
 * ```
 */
export function parseLayoutText(text: string, path: string): ClusterLayout {
  const head = text.trimStart();
  if (path.endsWith(".json") || head.startsWith("{") && isJson(head)) {
    return ClusterLayout.fromJson(text, path);
  }
  if (/(^|\/)node\.cfg$/.test(path) || path.endsWith(".cfg") || head.startsWith("[")) {
    return ClusterLayout.fromNodeCfg(text, { source: path });
  }
  return layoutFromCaf(text, path);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and parses a layout file; `cannot_open_file` when it cannot be read.
 *
 * @example
 * ```ts ignore
 * const layout = await readLayoutFile("node.cfg");
 * ```
 */
export async function readLayoutFile(path: string): Promise<ClusterLayout> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new BrokerError(
      ErrorCode.cannot_open_file,
      `cannot read layout ${path}: ${e instanceof Error ? e.message : e}`,
    );
  }
  return parseLayoutText(text, path);
}
