/**
 * Empty arrays made ready for objects, for the queues a connection pushes
 * to on its hot path.
 *
 * @module
 */

/**
 * An empty array whose elements are already of V8's kind for objects. Why:
 * `[]` starts as an array of small integers, and the first object pushed
 * changes its kind. Code that V8 optimised while the start-up warm-up's
 * connection ran had only seen its queues after that change, so each new
 * connection's first push threw the code away (a "not a Smi" deopt), and V8
 * compiled it again during the connection's first few hundred messages, on
 * a background thread that took the CPU from them.
 *
 * @example
 * ```ts
 * import { objectArray } from "./object_array.ts";
 * const queue = objectArray<Uint8Array>();
 * queue.push(new Uint8Array(1));
 * if (queue.length !== 1) throw new Error("a plain array");
 * ```
 */
export function objectArray<T>(): T[] {
  const a: unknown[] = [null];
  a.length = 0;
  return a as T[];
}
