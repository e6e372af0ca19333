/**
 * Broker's JSON form of data (`broker::format::json::v1`), the form of its
 * WebSocket API: every value is `{"@data-type": T, "data": D}`.
 *
 * **Writing.** {@link dataToJson} produces Broker's text byte for byte: no
 * whitespace, reals as `printf("%f")`, timestamps as UTC ISO 8601 with
 * milliseconds, timespans with the largest exact unit of ns/us/ms/s. Broker's
 * text is not always valid JSON, and by default we write exactly what it
 * writes:
 *
 * | value | Broker (our default) | `{ strict: true }` |
 * |---|---|---|
 * | NaN, infinities | bare `nan`, `inf`, `-inf` | strings `"nan"`, `"inf"`, `"-inf"` |
 * | vertical tab | escape `\v` | `\u000b` |
 * | other control bytes (NUL, ESC, ...) | raw | `\u00XX` |
 * | string bytes that are not UTF-8 | raw bytes (only {@link dataToJsonBytes}) | U+FFFD |
 *
 * A JS string cannot hold bytes that are not UTF-8, so {@link dataToJson}
 * writes such a string's U+FFFD reading; {@link dataToJsonBytes} gives Broker's
 * exact bytes.
 *
 * **Lossy in Broker's form** (in both modes): reals keep six decimals (`1e-7`
 * prints `0.000000`); timestamps keep milliseconds, truncated toward zero, and
 * a negative one with a millisecond part also loses that part (Broker prints
 * `-1.5 s` as `1969-12-31T23:59:59.000`, i.e. `-1 s`); the sign of NaN is lost.
 *
 * **Reading.** {@link dataFromJson} takes text (a string or UTF-8 bytes) or an
 * already parsed object. Beyond standard JSON it accepts what Broker writes:
 * bare `nan`, `-nan`, `inf`, `-inf`, raw control characters and the `\v`
 * escape in strings, and (from bytes) strings that are not UTF-8, kept
 * exactly. It is more lenient than Broker where no value is in doubt: a real
 * may be written as an integer or as the strings `"nan"`, `"inf"`, `"-inf"`;
 * timestamps take any number of fraction digits (beyond nine are truncated;
 * as in Broker, a year with a leading 0 is octal and `...:20.` is `...:20`)
 * and timespans also the unit `d`; a timespan's number may have a fraction or an
 * exponent (`1.5s`, `1e3ns`), as Broker reads it, truncated toward zero to ns. Timestamps without a zone are UTC, as in
 * Broker; `Z`, `±HH`, `±HHMM` and `±HH:MM` are accepted. Other keys beside
 * `@data-type` and `data` are ignored, so a whole `data-message` object reads
 * as its value; a repeated key keeps its first value, as in Broker. Errors are {@link BrokerError}s: `invalid_json` for text that
 * does not parse, `deserialization_failed` for a missing or unknown
 * `@data-type`, an element that is not an object, a repeated set element or
 * table key or too deep nesting, and `type_clash` (Broker's code) for data
 * that does not fit its `@data-type`. As in Broker (CAF's number reader), a
 * real whose exponent, less its fraction's digits, is beyond ±511 is
 * malformed (`1.5e999`, `1e-512`: `invalid_json`), while `1e400` reads as inf;
 * a timespan's number with such an exponent is refused (`1e-512s`: `type_clash`).
 * `\u` escapes of surrogates read as in Broker: a leading one must be
 * followed by a second `\u` escape, and the two combine by the surrogate
 * formula whatever the second holds (`\ud800\ud800` is U+FC00); a lone
 * trailing one is written in UTF-8's three-byte pattern (`\udc00`: bytes ed
 * b0 80, kept as the string's `bytes`). An address, alone or a subnet's,
 * reads as CAF reads one (`cafAddress`): IPv4 octets with leading zeros
 * stay decimal (`10.0107.031.233`), and the first group and those after
 * `::` take more than four hex digits while they fit 16 bits. A subnet's
 * length is read as
 * Broker's `std::stoi` reads it (`10.0.0.0/ 8`, `10.0.0.0/8x`), and one
 * beyond its family's but at most 255 gives Broker's empty subnet `::/0`
 * (`10.0.0.0/33`, and `::ffff:10.0.0.0/104`: the address is IPv4). A port
 * reads as Broker's `convert` reads it: its number by `strtoul`, cut to 16
 * bits (`-1/tcp` is `65535/tcp`), TCP without a `/` (`80`), and unknown for
 * a protocol named otherwise (`80/TCP`).
 *
 * **Broker's own reader** (broker-node 2.8's WebSocket API, checked with
 * random values) reads back everything it writes except `inf`, `-inf`,
 * `-nan`, a raw NUL in a string (it ends the text) and reals whose integer
 * part needs more than 64 bits. It makes a real's text a double with CAF's
 * arithmetic (digits gathered in a double, then scaled by powers of ten,
 * each step rounded: a third of random decimals end a unit in the last place
 * off the nearest double), and so do we, bit for bit (`cafReal`), except
 * for those integer parts beyond 64 bits, which we round once. Timespans
 * go through a double too (its number as CAF reads it, times the unit,
 * truncated: `123456789.123456789s` is 123456789123456800 ns, and past
 * int64, INT64_MIN), and we read them so, bit for bit; CAF has no days
 * (`1d` is refused). It refuses a real written without fraction or
 * exponent (`5`: to CAF an integer), as we do in text. Where we still
 * differ: it reads the escape `\/` as `?` (we read `/`); it takes CAF's
 * other number forms (`01`, octal `010`, `0x10`, `.5`, a bare `-`), which
 * are no JSON and which we refuse; and it refuses text with more than 128
 * JSON objects and arrays open at once (`nested_too_deeply`: 64 nested
 * vectors around a count, or 43 nested table keys, including a message's
 * own object), where ours takes up to `maxDepth` (128) nested values.
 * Objects (already parsed) hold numbers, which are taken as they are.
 *
 * @example
 * ```ts
 * import { count, dataFromJson, dataToJson, port, vector } from "../../mod.ts";
 * const text = dataToJson(vector(count(1n), port(80, "tcp")));
 * // {"@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"port","data":"80/tcp"}]}
 * dataFromJson(text); // the same vector
 * ```
 *
 * @module
 */
// Each part exports exactly its public names.
export * from "./json_write.ts";
export * from "./json_read.ts";
