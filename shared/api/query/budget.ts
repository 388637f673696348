/**
 * The response budget of the query routes. Lambda returns at most 6 MB and API Gateway 10 MB; a list page stops
 * adding items once its data passes this many bytes (one item is at most 300 KB, so a page stays well under 6 MB),
 * and an object larger than it is served in parts (DESIGN.md "quotas").
 */
export const RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024;

/** Bytes of JSON spent on a response so far; a page stops adding once it is spent (one entry always fits). */
export class ByteBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Counts `value`'s JSON and returns it. */
  add<T>(value: T): T {
    this.used += Buffer.byteLength(JSON.stringify(value));
    return value;
  }

  spent(): boolean {
    return this.used >= this.limit;
  }

  /** What is left (at least 1, so a read still returns one row). */
  left(): number {
    return Math.max(1, this.limit - this.used);
  }
}

/**
 * An object cut into parts of about `budget` bytes of JSON each, for `?part=n`. Arrays are cut between elements,
 * objects between keys, and a key whose value alone is over the budget has that value cut the same way, so the parts
 * rebuild the object by merging: objects key by key (recursively), arrays by concatenation. An array element larger
 * than the budget is never cut: it is a part of its own.
 */
export function splitObject(value: unknown, budget: number = RESPONSE_BUDGET_BYTES): unknown[] {
  if (value === null || typeof value !== "object" || jsonBytes(value) <= budget) return [value];
  if (Array.isArray(value)) {
    const parts: unknown[][] = [];
    let current: unknown[] = [];
    let bytes = 0;
    for (const element of value) {
      const size = jsonBytes(element) + 1;
      if (current.length > 0 && bytes + size > budget) {
        parts.push(current);
        current = [];
        bytes = 0;
      }
      current.push(element);
      bytes += size;
    }
    if (current.length > 0) parts.push(current);
    return parts;
  }
  // Each key becomes one chunk, or several when its value alone is over the budget; chunks are packed greedily, and a
  // key never appears twice in one part.
  const chunks: { key: string; value: unknown; bytes: number }[] = [];
  for (const [key, inner] of Object.entries(value)) {
    const size = jsonBytes(inner) + Buffer.byteLength(key) + 4;
    if (size <= budget) chunks.push({ key, value: inner, bytes: size });
    else for (const piece of splitObject(inner, budget)) chunks.push({ key, value: piece, bytes: jsonBytes(piece) });
  }
  const parts: Record<string, unknown>[] = [];
  let current: Record<string, unknown> = {};
  let bytes = 0;
  for (const chunk of chunks) {
    const started = Object.keys(current).length > 0;
    if (started && (bytes + chunk.bytes > budget || Object.hasOwn(current, chunk.key))) {
      parts.push(current);
      current = {};
      bytes = 0;
    }
    // defineProperty: a key named `__proto__` (valid JSON) must stay data, not become the prototype.
    Object.defineProperty(current, chunk.key, {
      value: chunk.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    bytes += chunk.bytes;
  }
  if (Object.keys(current).length > 0 || parts.length === 0) parts.push(current);
  return parts;
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null");
}

const splitCache = new WeakMap<object, unknown[]>();

/** `splitObject`, remembered per object value (the object cache hands out the same value while a version holds). */
export function objectParts(value: unknown): unknown[] {
  if (value === null || typeof value !== "object") return [value];
  let parts = splitCache.get(value);
  if (!parts) {
    parts = splitObject(value);
    splitCache.set(value, parts);
  }
  return parts;
}
