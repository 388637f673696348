import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteBudget, splitObject } from "../../../shared/api/query/budget.js";

/** The client's side of `?part=n`: objects merge key by key (recursively), arrays concatenate. */
function merge(parts: unknown[]): unknown {
  const [first, ...rest] = parts;
  let merged: unknown = first;
  for (const part of rest) merged = mergeTwo(merged, part);
  return merged;
}
function mergeTwo(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (a && b && typeof a === "object" && typeof b === "object") {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [key, value] of Object.entries(b)) {
      // defineProperty, as a JSON client's parse does: an own `__proto__` key stays data, never the prototype.
      Object.defineProperty(out, key, {
        value: Object.hasOwn(out, key) ? mergeTwo(out[key], value) : value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return b;
}

describe("splitObject", () => {
  it("keeps an object that fits whole", () => {
    expect(splitObject({ a: 1 }, 100)).toEqual([{ a: 1 }]);
  });

  it("cuts a large nested array into parts under the budget that merge back", () => {
    const object = { objects: Array.from({ length: 50 }, (_, i) => ({ n: i, pad: "x".repeat(100) })), v: 1 };
    const parts = splitObject(object, 1_000);
    expect(parts.length).toBeGreaterThan(5);
    for (const part of parts) expect(JSON.stringify(part).length).toBeLessThan(1_300);
    expect(merge(parts)).toEqual(object);
  });

  it("rebuilds any JSON value from its parts (property, huge pages of small budgets)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 20, max: 400 }), (value, budget) => {
        const parts = splitObject(value, budget);
        expect(merge(parts)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it("rebuilds an object whose `__proto__` key lands in a later part (a counterexample fast-check found)", () => {
    const value = JSON.parse('{"":[],"__proto__":null}');
    const parts = splitObject(value, 20);
    expect(parts.length).toBeGreaterThan(1);
    expect(merge(parts)).toEqual(value);
  });
});

describe("ByteBudget", () => {
  it("is spent once the JSON added reaches the limit", () => {
    const budget = new ByteBudget(10);
    budget.add({ a: 1 });
    expect(budget.spent()).toBe(false);
    budget.add("abcdef");
    expect(budget.spent()).toBe(true);
    expect(budget.left()).toBe(1);
  });
});

describe("splitObject and odd keys", () => {
  it("keeps a `__proto__` key as data", () => {
    const object = JSON.parse(`{"__proto__":{"x":"${"y".repeat(50)}"},"b":"${"z".repeat(50)}"}`);
    const parts = splitObject(object, 60);
    expect(parts.length).toBe(2);
    expect(JSON.stringify(parts[0])).toContain("__proto__");
  });
});
