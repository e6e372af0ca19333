/**
 * Zeek log-create messages: `(1, 2, (stream_id, writer_id, writer_info, fields_data))`.
 * The last two are Zeek's business, so they stay plain data here.
 *
 * @module
 */
import { enumValue } from "../data/constructors.ts";
import type { Data, EnumData, VectorData } from "../data/types.ts";
import { enumField, envelope, openAs, ZeekMessageType } from "./layout.ts";

/** Options of a {@link LogCreate}. */
export interface LogCreateOptions {
  /** Content fields after the four, which Broker tolerates; kept so a message re-encodes unchanged. */
  extra?: readonly Data[];
}

/**
 * A Zeek log-create message: a writer for a log stream comes into being.
 *
 * @example
 * ```ts
 * import { LogCreate, str, vector } from "../../mod.ts";
 * const msg = new LogCreate("Conn::LOG", "Log::WRITER_ASCII", str("info"), vector(str("ts")));
 * LogCreate.from(msg.toData()).streamId; // "Conn::LOG"
 * ```
 */
export class LogCreate {
  /** Discriminates the {@link ZeekMessage} union. */
  readonly kind = "log_create" as const;
  /** The log stream, a Zeek enum name such as `Conn::LOG`. */
  readonly streamId: string;
  /** The writer, a Zeek enum name such as `Log::WRITER_ASCII`. */
  readonly writerId: string;
  /** Zeek's writer info, opaque to Broker. */
  readonly writerInfo: Data;
  /** Zeek's field descriptions, opaque to Broker. */
  readonly fieldsData: Data;
  /** Content fields after the four (normally none). */
  readonly extra: readonly Data[];
  // As Data, the enum names keep bytes that are not UTF-8 exactly.
  readonly #streamId: EnumData;
  readonly #writerId: EnumData;

  /** Builds a log-create message. */
  constructor(
    streamId: string | Uint8Array,
    writerId: string | Uint8Array,
    writerInfo: Data,
    fieldsData: Data,
    options: LogCreateOptions = {},
  ) {
    this.#streamId = enumValue(streamId);
    this.#writerId = enumValue(writerId);
    this.streamId = this.#streamId.value;
    this.writerId = this.#writerId.value;
    this.writerInfo = writerInfo;
    this.fieldsData = fieldsData;
    this.extra = options.extra ?? [];
  }

  /**
   * Parses a log-create message as Broker's `LogCreate::valid()` checks it.
   * Throws a {@link BrokerError}: `invalid_message` or `type_clash`.
   */
  static from(data: Data): LogCreate {
    const content = openAs(data, ZeekMessageType.log_create, 4);
    const stream = enumField(content[0], "log stream id");
    const writer = enumField(content[1], "log writer id");
    return new LogCreate(
      stream.bytes ?? stream.value,
      writer.bytes ?? writer.value,
      content[2],
      content[3],
      { extra: content.slice(4) },
    );
  }

  /** The message as Broker data, ready to publish. */
  toData(): VectorData {
    return envelope(ZeekMessageType.log_create, [
      this.#streamId,
      this.#writerId,
      this.writerInfo,
      this.fieldsData,
      ...this.extra,
    ]);
  }
}
