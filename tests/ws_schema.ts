/**
 * A checker for the messages a Broker WebSocket server sends, written after
 * the rules of Broker's published schema (`api/v1-broker-out.json` in
 * zeek/broker: ack, data-message and error objects; every value
 * `{"@data-type", "data"}` with per-type constraints). Returns the problems
 * found, empty when the message conforms.
 *
 * @module
 */

const ADDRESS = /^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)|([0-9a-fA-F:.]+)?$/;
const TIMESPAN = /^[0-9]+(ns|ms|s|min|h|d)$/;
const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$/;
const SUBNET = /^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)|([0-9a-fA-F:.]+)?\/[0-9]+$/;
const PORT = /^[0-9]+\/(tcp|udp|icmp|\?)?$/;

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Problems with one value (`{"@data-type", "data"}`), with a path for context. */
export function checkValue(v: unknown, path = "$"): string[] {
  if (!isObj(v)) return [`${path}: not an object`];
  if (!("@data-type" in v) || !("data" in v)) return [`${path}: needs @data-type and data`];
  const d = v.data;
  const bad = (what: string) => [`${path}: ${v["@data-type"]} ${what}: ${JSON.stringify(d)}`];
  switch (v["@data-type"]) {
    case "none":
      return [];
    case "boolean":
      return typeof d === "boolean" ? [] : bad("must be a boolean");
    case "count":
      return Number.isInteger(d) && (d as number) >= 0 ? [] : bad("must be an integer >= 0");
    case "integer":
      return Number.isInteger(d) ? [] : bad("must be an integer");
    case "real":
      return typeof d === "number" ? [] : bad("must be a number");
    case "timespan":
      return typeof d === "string" && TIMESPAN.test(d) ? [] : bad("does not match the pattern");
    case "timestamp":
      return typeof d === "string" && TIMESTAMP.test(d) ? [] : bad("does not match the pattern");
    case "string":
    case "enum-value":
      return typeof d === "string" ? [] : bad("must be a string");
    case "address":
      return typeof d === "string" && ADDRESS.test(d) ? [] : bad("does not match the pattern");
    case "subnet":
      return typeof d === "string" && SUBNET.test(d) ? [] : bad("does not match the pattern");
    case "port":
      return typeof d === "string" && PORT.test(d) ? [] : bad("does not match the pattern");
    case "vector":
    case "set": {
      if (!Array.isArray(d)) return bad("must be an array");
      const out = d.flatMap((x, i) => checkValue(x, `${path}[${i}]`));
      if (v["@data-type"] === "set") {
        const seen = new Set(d.map((x) => JSON.stringify(x)));
        if (seen.size !== d.length) out.push(`${path}: set items must be unique`);
      }
      return out;
    }
    case "table":
      if (!Array.isArray(d)) return bad("must be an array");
      return d.flatMap((e, i) =>
        isObj(e) && "key" in e && "value" in e
          ? [
            ...checkValue(e.key, `${path}[${i}].key`),
            ...checkValue(e.value, `${path}[${i}].value`),
          ]
          : [`${path}[${i}]: needs key and value`]
      );
    default:
      return [`${path}: unknown @data-type ${JSON.stringify(v["@data-type"])}`];
  }
}

/** Problems with one message the server sent. */
export function checkServerMessage(m: unknown): string[] {
  if (!isObj(m)) return ["$: not an object"];
  switch (m.type) {
    case "ack":
      return typeof m.endpoint === "string" && typeof m.version === "string"
        ? []
        : ["ack needs string endpoint and version"];
    case "error":
      return typeof m.code === "string" && typeof m.context === "string"
        ? []
        : ["error needs string code and context"];
    case "data-message":
      return typeof m.topic === "string" ? checkValue(m) : ["data-message needs a string topic"];
    default:
      return [`unknown message type ${JSON.stringify(m.type)}`];
  }
}
