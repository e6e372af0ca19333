/**
 * `broker node`'s recording directory (`broker.recording-directory`): what
 * the node publishes and subscribes to, in the layout of Broker's recorder.
 *
 * @module
 */
import {
  type Data,
  decode,
  Endpoint,
  type EndpointOptions,
  type PublishOptions,
  StatusCode,
  type Subscriber,
  type SubscriberOptions,
} from "../mod.ts";
import { GeneratorFileWriter } from "../engine/recording/generator_file.ts";
import { decodeCommand } from "../engine/store/commands.ts";
import type { CommandBus } from "../engine/store/command_bus.ts";

import type { NodeOptions } from "./node_options.ts";

/**
 * An endpoint that shows a `RecordingDirectory` what it does, where Broker
 * 2.2.0's recorder sat in its core: every message published here (data and
 * store commands, once each, whether or not a peer wants it; not what it
 * forwards for others) and every subscription, store topics included.
 */
class RecordingEndpoint extends Endpoint {
  readonly #recording: RecordingDirectory;
  #bus?: CommandBus;

  constructor(recording: RecordingDirectory, options: EndpointOptions) {
    super(options);
    this.#recording = recording;
  }

  override publish(topic: string, data: Data, options?: PublishOptions): void {
    this.#recording.recordData(topic, data);
    super.publish(topic, data, options);
  }

  override publishEncoded(topic: string, payload: Uint8Array): void {
    this.#recording.recordData(topic, decode(payload));
    super.publishEncoded(topic, payload);
  }

  override subscribe(topics: string | string[], options?: SubscriberOptions): Subscriber {
    const sub = super.subscribe(topics, options);
    this.#recording.recordSubscription(typeof topics === "string" ? [topics] : topics);
    return sub;
  }

  /** The endpoint's bus, seen by the recorder: the stores' commands and subscriptions. */
  override get commandBus(): CommandBus {
    if (this.#bus) return this.#bus;
    const bus = super.commandBus;
    const recording = this.#recording;
    this.#bus = {
      idBytes: bus.idBytes,
      onCommands: (topic, handler) => {
        recording.recordSubscription([topic]);
        return bus.onCommands(topic, handler);
      },
      sendCommand: (topic, payload, receiver) => {
        recording.recordCommand(topic, payload);
        bus.sendCommand(topic, payload, receiver);
      },
      hasPeerSubscriber: (topic) => bus.hasPeerSubscriber(topic),
      hasLocalSubscriber: (topic) => bus.hasLocalSubscriber(topic),
      deliverLocal: (topic, data) => bus.deliverLocal(topic, data),
    };
    return this.#bus;
  }
}

/**
 * A node's recording directory, as Broker's recorder laid it out (its
 * core_recorder, in Broker 2.2.0 and before): the node's configuration in
 * `broker.conf` (with `broker.forward`, which generate-config reads), its
 * endpoint ID in `id.txt`, the IDs of its peers in `peers.txt` as they
 * connect, its subscriptions in `topics.txt` as they are made (repeats
 * included), and the shapes of the messages it publishes, data and store
 * commands, in the generator file `messages.dat` (version 1, which Broker
 * 2.2.0's `broker-cluster-benchmark` reads). These are the files
 * `broker bench cluster --mode generate-config` reads.
 */
export class RecordingDirectory {
  readonly #dir: string;
  readonly #writer: GeneratorFileWriter;
  #peers?: Promise<void>;
  #topics = "";

  private constructor(dir: string, writer: GeneratorFileWriter) {
    this.#dir = dir;
    this.#writer = writer;
  }

  /** Creates the directory and writes `broker.conf`. */
  static async open(dir: string, cap: number, opts: NodeOptions): Promise<RecordingDirectory> {
    await Deno.mkdir(dir, { recursive: true });
    const conf = [
      "broker {",
      `  disable-ssl = ${opts.disableSsl ? "true" : "false"}`,
      // Broker 2.2.0's name: its generate-config reads only this one, newer ones both.
      `  forward = ${opts.disableForwarding ? "false" : "true"}`,
      "}",
      `topics = [${opts.topics.map((t) => JSON.stringify(t)).join(", ")}]`,
      `mode = "${opts.mode}"`,
      "",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/broker.conf`, conf);
    return new RecordingDirectory(
      dir,
      new GeneratorFileWriter(Number.isFinite(cap) && cap > 0 ? cap : Infinity),
    );
  }

  /** A new endpoint that records into this directory (see `attach`). */
  endpoint(options: EndpointOptions): Endpoint {
    const ep = new RecordingEndpoint(this, options);
    this.attach(ep);
    return ep;
  }

  /**
   * Records the endpoint's ID now and each peer as its handshake completes.
   * Publications and subscriptions are recorded only through `endpoint`.
   */
  attach(ep: Endpoint): void {
    Deno.writeTextFileSync(`${this.#dir}/id.txt`, `${ep.id}\n`);
    Deno.writeTextFileSync(`${this.#dir}/peers.txt`, "");
    Deno.writeTextFileSync(`${this.#dir}/topics.txt`, this.#topics);
    const events = ep.statusSubscriber();
    this.#peers = (async () => {
      for await (const ev of events) {
        if (ev.kind === "status" && ev.code === StatusCode.peer_added && ev.peer?.id) {
          Deno.writeTextFileSync(`${this.#dir}/peers.txt`, `${ev.peer.id}\n`, { append: true });
        }
      }
    })();
  }

  /** Keeps the shape of a data message the node publishes. */
  recordData(topic: string, data: Data): void {
    this.#writer.addData(topic, data);
  }

  /**
   * Keeps the shape of a store command the node publishes, under Broker
   * 2.2.0's command types (see `GeneratorFileWriter.addCommand`).
   */
  recordCommand(topic: string, payload: Uint8Array): void {
    try {
      this.#writer.addCommand(topic, decodeCommand(payload).content);
    } catch {
      // not ours to judge here: the peer sees the same bytes
    }
  }

  /** Appends subscribed topics to `topics.txt`, as Broker's recorder did on every subscription. */
  recordSubscription(topics: readonly string[]): void {
    const lines = topics.map((t) => `${t}\n`).join("");
    this.#topics += lines;
    try {
      Deno.writeTextFileSync(`${this.#dir}/topics.txt`, lines, { append: true });
    } catch {
      // the directory is written at `attach`; before that, the text waits in #topics
    }
  }

  /** Writes `messages.dat` now, synchronously: also from a signal handler. */
  flushSync(): void {
    Deno.writeFileSync(`${this.#dir}/messages.dat`, this.#writer.bytes());
  }

  /** Writes the files and waits for the peer recorder to end (the endpoint is shut down). */
  async close(): Promise<void> {
    this.flushSync();
    await this.#peers;
  }
}
