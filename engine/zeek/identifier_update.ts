/**
 * Zeek identifier updates: `(1, 4, (id_name, id_value))`, a global Zeek
 * variable and its new value.
 *
 * @module
 */
import { str } from "../data/constructors.ts";
import type { Data, StringData, VectorData } from "../data/types.ts";
import { envelope, openAs, stringField, ZeekMessageType } from "./layout.ts";

/** Options of an {@link IdentifierUpdate}. */
export interface IdentifierUpdateOptions {
  /** Content fields after the two, which Broker tolerates; kept so a message re-encodes unchanged. */
  extra?: readonly Data[];
}

/**
 * A Zeek identifier update.
 *
 * @example
 * ```ts
 * import { IdentifierUpdate, set, subnet } from "../../mod.ts";
 * const msg = new IdentifierUpdate("Site::local_nets", set(subnet("10.0.0.0/8")));
 * IdentifierUpdate.from(msg.toData()).name; // "Site::local_nets"
 * ```
 */
export class IdentifierUpdate {
  /** Discriminates the {@link ZeekMessage} union. */
  readonly kind = "identifier_update" as const;
  /** The identifier, e.g. `Site::local_nets`. */
  readonly name: string;
  /** Its new value. */
  readonly value: Data;
  /** Content fields after the two (normally none). */
  readonly extra: readonly Data[];
  // As Data, the name keeps bytes that are not UTF-8 exactly.
  readonly #name: StringData;

  /** Builds an identifier update. */
  constructor(name: string | Uint8Array, value: Data, options: IdentifierUpdateOptions = {}) {
    this.#name = str(name);
    this.name = this.#name.value;
    this.value = value;
    this.extra = options.extra ?? [];
  }

  /**
   * Parses an identifier update as Broker's `IdentifierUpdate::valid()`
   * checks it. Throws a {@link BrokerError}: `invalid_message` or `type_clash`.
   */
  static from(data: Data): IdentifierUpdate {
    const content = openAs(data, ZeekMessageType.identifier_update, 2);
    const name = stringField(content[0], "identifier name");
    return new IdentifierUpdate(name.bytes ?? name.value, content[1], {
      extra: content.slice(2),
    });
  }

  /** The message as Broker data, ready to publish. */
  toData(): VectorData {
    return envelope(ZeekMessageType.identifier_update, [this.#name, this.value, ...this.extra]);
  }
}
