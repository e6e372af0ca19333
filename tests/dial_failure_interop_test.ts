// A peer we dial that fails the handshake, side by side with the C++ broker-pipe: however it
// fails (it hangs up, answers garbage, a wrong magic, versions we do not speak, a drop_conn),
// broker-pipe prints the attempt's peer_unavailable error and nothing else; our `broker pipe`
// prints the same line, word for word, and nothing else.
import assert from "node:assert/strict";
import { encodeHandshakeMessage, MAGIC, MessageType } from "../engine/wire/handshake_messages.ts";
import { parseEndpointId } from "../engine/wire/endpoint_id.ts";
import { ErrorCode } from "../engine/errors.ts";
import { RefProcess } from "./broker_ref.ts";
import { hello, waitFor } from "./raw_peer.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const PEER_ID = "ffffffff-ffff-4fff-bfff-ffffffffffff";

/** How the listener answers each connection, after reading what the dialler sent first. */
const ANSWERS: Record<string, Uint8Array | undefined> = {
  "hangs up": undefined,
  "answers garbage": new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"),
  "sends a wrong magic": encodeHandshakeMessage(hello(PEER_ID, 1, 1, 0x12345678), {
    prefix: true,
  }),
  "offers versions 7 to 9": encodeHandshakeMessage(hello(PEER_ID, 7, 9), { prefix: true }),
  "drops the connection": encodeHandshakeMessage({
    type: MessageType.drop_conn,
    magic: MAGIC,
    senderId: parseEndpointId(PEER_ID),
    code: ErrorCode.peer_incompatible,
    description: "go away",
  }, { prefix: true }),
};

/** Our `broker pipe` as a child, its stderr lines collected as they come. */
function ourPipe(args: string[]): { lines: string[]; child: Deno.ChildProcess } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "pipe", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  return { lines, child };
}

Deno.test(
  "a dialled peer that fails the handshake: broker-pipe and ours print its peer_unavailable line alone",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // The cases are independent (a listener and two pipes each) and mostly wait: all at once.
    await Promise.all(
      Object.entries(ANSWERS).map(async ([how, answer]) => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as Deno.NetAddr).port;
        const accepting = (async () => {
          for await (const conn of listener) {
            (async () => {
              try {
                await conn.read(new Uint8Array(4096));
                if (answer) await conn.write(answer);
                await new Promise((r) => setTimeout(r, 200));
              } catch { /* the dialler went first */ }
              conn.close();
            })();
          }
        })();
        const args = [
          "--disable-ssl",
          "-m",
          "subscribe",
          "-t",
          "/a",
          "-p",
          `["127.0.0.1:${port}"]`,
        ];
        const cpp = new RefProcess("broker-pipe", args);
        const ours = ourPipe(args);
        try {
          const line =
            `*** data(<$>/local/data/errors, (error, peer_unavailable, ((nil, 127.0.0.1, ${port}/tcp, 10), unable to connect to remote peer)))`;
          await cpp.waitFor((l) => l.includes("peer_unavailable"), 1, 20_000);
          await waitFor(
            () => ours.lines.some((l) => l.includes("peer_unavailable")),
            `ours (${how})`,
            20_000,
          );
          // Both wait in their blocking peer() (retry 10 s): anything more would come now.
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(
            cpp.lines.filter((l) => l.startsWith("***")),
            [line],
            `broker-pipe (${how})`,
          );
          assert.deepEqual(ours.lines, [line], `ours (${how})`);
        } finally {
          await cpp.stop();
          ours.child.kill("SIGTERM");
          await ours.child.status;
          listener.close();
          await accepting.catch(() => {});
        }
      }),
    );
  },
);
