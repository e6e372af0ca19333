/**
 * Loads Broker's fixtures (copied under `fixtures/broker/`) for tests, the
 * fuzzer and benchmarks.
 *
 * @module
 */

/** One golden value as the fixture manifest lists it. */
export interface GoldenValue {
  name: string;
  hex: string;
  text: string | null;
  text_hex?: string;
  json_text: string | null;
  json_text_hex?: string;
  description?: string;
}

/** One captured frame (length prefix stripped). */
export interface Frame {
  time: number;
  from: string;
  to: string;
  length: number;
  hex: string;
}

const root = new URL("../fixtures/broker/", import.meta.url);

/** Path of a file under `fixtures/broker/`. */
export function fixtureUrl(path: string): URL {
  return new URL(path, root);
}

/** Hex to bytes. */
export function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes to lowercase hex. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The golden `data` values. */
export function goldenData(): GoldenValue[] {
  return JSON.parse(Deno.readTextFileSync(fixtureUrl("golden/data/manifest.json")));
}

/** The golden Zeek messages. */
export function goldenZeek(): (GoldenValue & Record<string, unknown>)[] {
  return JSON.parse(Deno.readTextFileSync(fixtureUrl("golden/zeek/manifest.json")));
}

/** Names of the captures whose frames are listed. */
export const CAPTURES = ["ping-pong", "relay-three-nodes", "store-master-clone"] as const;

/** Frames of one capture. */
export function captureFrames(name: (typeof CAPTURES)[number]): Frame[] {
  return JSON.parse(Deno.readTextFileSync(fixtureUrl(`pcap/${name}.frames.json`))).frames;
}

/**
 * Payloads of the data messages (node message type 1) in every capture: the
 * bytes after the 37-byte envelope header and the topic.
 */
export function capturedDataPayloads(): { capture: string; topic: string; payload: Uint8Array }[] {
  const out = [];
  for (const name of CAPTURES) {
    for (const f of captureFrames(name)) {
      const b = unhex(f.hex);
      if (b.length < 37 || b[32] !== 1) continue;
      const topicLen = (b[35] << 8) | b[36];
      const topic = new TextDecoder().decode(b.subarray(37, 37 + topicLen));
      out.push({ capture: name, topic, payload: b.subarray(37 + topicLen) });
    }
  }
  return out;
}
