/**
 * Zeek events: `(1, 1, (name, (args...)[, metadata]))`, with metadata a vector
 * of `(key, value)` pairs; key 1 is the network timestamp.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { count, str, timestamp as timestampData } from "../data/constructors.ts";
import type { Data, StringData, VectorData } from "../data/types.ts";
import { LIMITS } from "../data/types.ts";
import {
  envelope,
  MetadataType,
  openAs,
  stringField,
  vectorField,
  wrongField,
  ZeekMessageType,
} from "./layout.ts";

/** One metadata entry: a key (a count) and its value. */
export type MetadataEntry = readonly [key: bigint, value: Data];

/** Options of an {@link Event}. */
export interface EventOptions {
  /**
   * Network time in ns since the epoch: adds the metadata entry `(1, ts)`
   * first, as Broker's constructor with a timestamp does.
   */
  timestamp?: bigint;
  /** Metadata entries; when neither this nor `timestamp` is given the event has no metadata field. */
  metadata?: readonly MetadataEntry[];
  /** Content fields after the metadata, which Broker tolerates; kept so a message re-encodes unchanged. */
  extra?: readonly Data[];
}

const NETWORK_TIMESTAMP = BigInt(MetadataType.NetworkTimestamp);

/**
 * A Zeek event.
 *
 * @example
 * ```ts
 * import { count, dataToString, Event, str } from "../../mod.ts";
 * const ev = new Event("ping", [str("hi"), count(1n)], { timestamp: 1_700_000_000_000_000_000n });
 * dataToString(ev.toData()); // "(1, 1, (ping, (hi, 1), ((1, 1700000000000000000ns))))"
 * Event.from(ev.toData()).networkTimestamp; // 1700000000000000000n
 * ```
 */
export class Event {
  /** Discriminates the {@link ZeekMessage} union. */
  readonly kind = "event" as const;
  /** The event name. */
  readonly name: string;
  /** The arguments. */
  readonly args: readonly Data[];
  /** The metadata entries, or undefined when the event has no metadata field. */
  readonly metadata: readonly MetadataEntry[] | undefined;
  /** Content fields after the metadata (normally none). */
  readonly extra: readonly Data[];
  // The name as Data keeps bytes that are not UTF-8 exactly.
  readonly #name: StringData;

  /** Builds an event; throws `type_clash` on a bad metadata entry. */
  constructor(name: string | Uint8Array, args: readonly Data[] = [], options: EventOptions = {}) {
    this.#name = str(name);
    this.name = this.#name.value;
    this.args = args;
    let metadata = options.metadata;
    if (options.timestamp !== undefined) {
      metadata = [[NETWORK_TIMESTAMP, timestampData(options.timestamp)], ...(metadata ?? [])];
    }
    for (const [key, value] of metadata ?? []) checkEntry(key, value);
    this.metadata = metadata;
    this.extra = options.extra ?? [];
    if (this.extra.length > 0 && metadata === undefined) {
      throw new BrokerError(
        ErrorCode.invalid_message,
        "extra event fields need a metadata field before them",
      );
    }
  }

  /**
   * Parses an event as Broker's `Event::valid()` checks it. Throws a
   * {@link BrokerError}: `invalid_message` (not a Zeek message, too few
   * fields) or `type_clash` (another message type, a field of the wrong type).
   */
  static from(data: Data): Event {
    const content = openAs(data, ZeekMessageType.event, 2);
    const name = stringField(content[0], "event name");
    const args = vectorField(content[1], "event arguments");
    let metadata: MetadataEntry[] | undefined;
    if (content.length > 2) {
      metadata = vectorField(content[2], "event metadata").map((entry) => {
        if (entry.type !== "vector" || entry.value.length !== 2) {
          return wrongField("event metadata entries must be (key, value) pairs");
        }
        const [key, value] = entry.value;
        if (key.type !== "count") wrongField(`event metadata key must be a count, not ${key.type}`);
        return [key.value, value] as const;
      });
    }
    return new Event(name.bytes ?? name.value, args, { metadata, extra: content.slice(3) });
  }

  /** The network timestamp (metadata key 1) in ns, if the event has one. */
  get networkTimestamp(): bigint | undefined {
    const v = this.metadataValue(NETWORK_TIMESTAMP);
    return v?.type === "timestamp" ? v.value : undefined;
  }

  /** The value of the first metadata entry with this key. */
  metadataValue(key: bigint | number): Data | undefined {
    const k = BigInt(key);
    return this.metadata?.find(([mk]) => mk === k)?.[1];
  }

  /** The message as Broker data, ready to publish. */
  toData(): VectorData {
    const content: Data[] = [this.#name, { type: "vector", value: this.args }];
    if (this.metadata !== undefined) {
      content.push({
        type: "vector",
        value: this.metadata.map(([k, v]) => ({ type: "vector", value: [count(k), v] })),
      });
    }
    content.push(...this.extra);
    return envelope(ZeekMessageType.event, content);
  }
}

function checkEntry(key: bigint, value: Data): void {
  if (typeof key !== "bigint" || key < 0n || key > LIMITS.U64_MAX) {
    wrongField(`event metadata key ${key} is not a count`);
  }
  // Broker's Event::valid() checks the type of this one key only.
  if (key === NETWORK_TIMESTAMP && value.type !== "timestamp") {
    wrongField(`event network timestamp (metadata key 1) must be a timestamp, not ${value.type}`);
  }
}
