/**
 * Zeek log-write messages: `(1, 3, (stream_id, writer_id, path, serial_data))`.
 * `serial_data` is a log record in Zeek's own binary serialization, opaque to
 * Broker, so it is exposed as bytes.
 *
 * @module
 */
import { enumValue, str } from "../data/constructors.ts";
import type { Data, EnumData, StringData, VectorData } from "../data/types.ts";
import { enumField, envelope, openAs, stringField, ZeekMessageType } from "./layout.ts";

/** Options of a {@link LogWrite}. */
export interface LogWriteOptions {
  /** Content fields after the four, which Broker tolerates; kept so a message re-encodes unchanged. */
  extra?: readonly Data[];
}

const utf8 = new TextEncoder();

/**
 * A Zeek log-write message: one record for a log stream.
 *
 * @example
 * ```ts
 * import { LogWrite } from "../../mod.ts";
 * const msg = new LogWrite("Conn::LOG", "Log::WRITER_ASCII", "conn", new Uint8Array([1, 2]));
 * LogWrite.from(msg.toData()).serialData; // Uint8Array [1, 2]
 * ```
 */
export class LogWrite {
  /** Discriminates the {@link ZeekMessage} union. */
  readonly kind = "log_write" as const;
  /** The log stream, a Zeek enum name such as `Conn::LOG`. */
  readonly streamId: string;
  /** The writer, a Zeek enum name such as `Log::WRITER_ASCII`. */
  readonly writerId: string;
  /** The log path, e.g. `conn`. */
  readonly path: string;
  /** Content fields after the four (normally none). */
  readonly extra: readonly Data[];
  // As Data, the text fields keep bytes that are not UTF-8 exactly.
  readonly #streamId: EnumData;
  readonly #writerId: EnumData;
  readonly #path: StringData;
  readonly #serial: StringData;

  /** Builds a log-write message. */
  constructor(
    streamId: string | Uint8Array,
    writerId: string | Uint8Array,
    path: string | Uint8Array,
    serialData: string | Uint8Array,
    options: LogWriteOptions = {},
  ) {
    this.#streamId = enumValue(streamId);
    this.#writerId = enumValue(writerId);
    this.#path = str(path);
    this.#serial = str(serialData);
    this.streamId = this.#streamId.value;
    this.writerId = this.#writerId.value;
    this.path = this.#path.value;
    this.extra = options.extra ?? [];
  }

  /**
   * Parses a log-write message as Broker's `LogWrite::valid()` checks it.
   * Throws a {@link BrokerError}: `invalid_message` or `type_clash`.
   */
  static from(data: Data): LogWrite {
    const content = openAs(data, ZeekMessageType.log_write, 4);
    const stream = enumField(content[0], "log stream id");
    const writer = enumField(content[1], "log writer id");
    const path = stringField(content[2], "log path");
    const serial = stringField(content[3], "log serial data");
    return new LogWrite(
      stream.bytes ?? stream.value,
      writer.bytes ?? writer.value,
      path.bytes ?? path.value,
      serial.bytes ?? serial.value,
      { extra: content.slice(4) },
    );
  }

  /** Zeek's serialized record, as bytes (a fresh copy). */
  get serialData(): Uint8Array {
    return this.#serial.bytes ? this.#serial.bytes.slice() : utf8.encode(this.#serial.value);
  }

  /** The message as Broker data, ready to publish. */
  toData(): VectorData {
    return envelope(ZeekMessageType.log_write, [
      this.#streamId,
      this.#writerId,
      this.#path,
      this.#serial,
      ...this.extra,
    ]);
  }
}
