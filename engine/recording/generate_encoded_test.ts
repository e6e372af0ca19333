import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode, equals, Tag } from "../data/mod.ts";
import { generateEncoded, prepareEncoded } from "./generate_encoded.ts";
import {
  generateFromShape,
  type Random,
  readGeneratorFile,
  seededRandom,
  type Shape,
} from "./generator_file.ts";

const fixture = (path: string) =>
  readGeneratorFile(Deno.readFileSync(new URL(`../../fixtures/${path}`, import.meta.url)));

const FILES = [
  "broker/recordings/mars.dat",
  ...["logger", "manager", "proxy", "worker-1", "worker-2"].map((n) =>
    `zeek-cluster/${n}/messages.dat`
  ),
];

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * A source of few distinct numbers: its text is a and b only, so that long
 * texts share their first letters (the sort key) and are told apart by
 * their other ones, and repeats abound.
 */
function twoLetters(seed: number): Random {
  const rnd = seededRandom(seed);
  return () => rnd() < 0.5 ? 0 : 0.04;
}

/**
 * Generates `shapes` in a row both ways, each from its own source made
 * alike, and asserts the same bytes per shape and the sources in step after
 * all (their next draws agree). "wrapped" hides the seeded source behind a
 * plain function, for the path that calls the source per draw.
 */
function assertSameBytes(
  shapes: readonly Shape[],
  seed: number,
  source: "seeded" | "wrapped" | "two letters" = "seeded",
): void {
  const make = (): Random => {
    if (source === "two letters") return twoLetters(seed);
    const rnd = seededRandom(seed);
    return source === "wrapped" ? () => rnd() : rnd;
  };
  const ours = make(), theirs = make();
  shapes.forEach((shape, i) => {
    const got = generateEncoded(shape, ours);
    const want = encode(generateFromShape(shape, theirs));
    if (got.length !== want.length || hex(got) !== hex(want)) {
      assert.fail(
        `shape ${i}, seed ${seed}, ${source}: ${hex(got).slice(0, 200)} != ${
          hex(want).slice(0, 200)
        }`,
      );
    }
  });
  assert.equal(ours(), theirs(), `seed ${seed}: the sources are out of step`);
}

Deno.test("every data entry of mars.dat and the Zeek cluster recordings: the bytes of encode(generateFromShape)", () => {
  for (const path of FILES) {
    const shapes = fixture(path).entries.filter((e) => e.kind === "data").map((e) => e.shape!);
    for (const seed of [1, 2, 3, 0xdeadbeef]) assertSameBytes(shapes, seed);
    assertSameBytes(shapes, 4, "wrapped");
    assertSameBytes(shapes, 5, "two letters");
  }
});

Deno.test("a mars.dat event made twice over from one source: fresh values, each one valid", () => {
  const shape = fixture("broker/recordings/mars.dat").entries[0].shape!;
  prepareEncoded(shape);
  const rnd = seededRandom(9);
  const a = generateEncoded(shape, rnd).slice();
  const b = generateEncoded(shape, rnd);
  assert.notEqual(hex(a), hex(b));
  // Valid Broker data that encodes back to itself (sets and tables in order).
  assert.equal(hex(encode(decode(a))), hex(a));
  assert.ok(!equals(decode(a), decode(b)));
});

const textShape = (maxSize: number) =>
  fc.record({
    tag: fc.constantFrom(Tag.string, Tag.enum),
    size: fc.integer({ min: 0, max: maxSize }),
  }) as fc.Arbitrary<Shape>;

/**
 * Shapes of every kind: scalars, vectors, and sets and tables of text
 * (short texts, so that repeats and equal keys come up; long ones, past
 * the sort key's letters; many elements, past the insertion sort) and of
 * anything else (through `Data`).
 */
const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(
      Tag.none,
      Tag.boolean,
      Tag.count,
      Tag.integer,
      Tag.real,
      Tag.address,
      Tag.subnet,
      Tag.port,
      Tag.timestamp,
      Tag.timespan,
    ).map((tag) => ({ tag })),
    textShape(20),
    fc.array(tie("shape"), { maxLength: 5 }).map((children) => ({
      tag: Tag.vector,
      size: children.length,
      children,
    })),
    fc.tuple(
      fc.constantFrom(Tag.string, Tag.enum),
      fc.array(fc.integer({ min: 0, max: 14 }), {
        minLength: 1,
        maxLength: 45,
      }),
    ).map(([tag, sizes]) => ({
      tag: Tag.set,
      size: sizes.length,
      children: sizes.map((size) => ({ tag, size })),
    })),
    fc.tuple(
      fc.constantFrom(Tag.string, Tag.enum),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), tie("shape")), {
        minLength: 1,
        maxLength: 40,
      }),
    ).map(([tag, pairs]) => ({
      tag: Tag.table,
      size: pairs.length,
      children: pairs.flatMap(([size, value]) => [{ tag, size }, value]),
    })),
    fc.array(tie("shape"), { maxLength: 4 }).map((children) => ({
      tag: Tag.set,
      size: children.length,
      children,
    })),
    fc.array(tie("shape"), { maxLength: 6 }).map((children) => ({
      tag: Tag.table,
      size: children.length >> 1,
      children,
    })),
  ),
})).shape;

Deno.test("property: any shape gives the bytes of encode(generateFromShape), whatever the source", () => {
  fc.assert(
    fc.property(
      fc.array(shapeArb, { minLength: 1, maxLength: 4 }),
      fc.integer(),
      (shapes, seed) => {
        assertSameBytes(shapes, seed);
        assertSameBytes(shapes, seed, "wrapped");
        assertSameBytes(shapes, seed, "two letters");
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("long texts with equal first letters, in small and large sets and tables", () => {
  const text = (size: number): Shape => ({ tag: Tag.string, size });
  const sizes = (n: number) => Array.from({ length: n }, (_, i) => 6 + (i % 4));
  const shapes: Shape[] = [8, 40, 300].flatMap((n) => [
    { tag: Tag.set, size: n, children: sizes(n).map(text) },
    {
      tag: Tag.table,
      size: n,
      children: sizes(n).flatMap((size) => [text(size), { tag: Tag.count }]),
    },
  ]);
  for (const seed of [1, 2, 3]) {
    assertSameBytes(shapes, seed, "two letters");
    assertSameBytes(shapes, seed);
  }
});
