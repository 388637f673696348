/**
 * Path grammars for tenant-supplied source configs. jsonpath-plus accepts malformed paths silently, so every path is
 * parsed here first: JSONPath limited to root, dot and bracket members, `[*]`/`.*` and indexes (no filters, no
 * script, no recursive descent), and dot paths (`profile.real_name`) for fields inside an item.
 */

export type PathSegment = { kind: "member"; name: string } | { kind: "index"; index: number } | { kind: "wildcard" };

export type ParseResult = { ok: true; segments: PathSegment[] } | { ok: false; error: string };

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** Parses `$`, `$.a.b`, `$.members[*]`, `$['@odata.nextLink']`, `$.items[0].id`, `$.*`. */
export function parseJsonPath(path: string): ParseResult {
  if (!path.startsWith("$")) return { ok: false, error: "must start with '$'" };
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    if (rest.startsWith("..")) return { ok: false, error: `recursive descent '..' is not supported (at ${i})` };
    if (rest.startsWith(".*")) {
      segments.push({ kind: "wildcard" });
      i += 2;
      continue;
    }
    if (rest.startsWith(".")) {
      const match = IDENT.exec(rest.slice(1));
      if (!match) return { ok: false, error: `expected a member name after '.' (at ${i})` };
      segments.push({ kind: "member", name: match[0] });
      i += 1 + match[0].length;
      continue;
    }
    if (rest.startsWith("[")) {
      const close = findBracketEnd(rest);
      if (close < 0) return { ok: false, error: `unclosed '[' (at ${i})` };
      const inner = rest.slice(1, close).trim();
      if (inner === "*") segments.push({ kind: "wildcard" });
      else if (/^\d{1,9}$/.test(inner)) segments.push({ kind: "index", index: Number(inner) });
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) {
        const name = inner.slice(1, -1);
        if (name.length === 0) return { ok: false, error: `empty member name (at ${i})` };
        segments.push({ kind: "member", name });
      } else
        return {
          ok: false,
          error: `unsupported bracket expression '[${inner}]' (filters and scripts are not allowed)`,
        };
      i += close + 1;
      continue;
    }
    return { ok: false, error: `unexpected '${rest[0]}' (at ${i})` };
  }
  return { ok: true, segments };
}

function findBracketEnd(text: string): number {
  let quote: string | undefined;
  for (let j = 1; j < text.length; j++) {
    const ch = text[j];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "]") return j;
    else if (ch === "[") return -1;
  }
  return -1;
}

/** Parses `id`, `profile.real_name`, `emails.0.value`. Segments are non-empty and contain no brackets. */
export function parseDotPath(path: string): ParseResult {
  if (path.length === 0 || path.length > 256) return { ok: false, error: "must be 1-256 characters" };
  const parts = path.split(".");
  const segments: PathSegment[] = [];
  for (const part of parts) {
    if (part.length === 0) return { ok: false, error: "has an empty segment" };
    if (/[[\]*$\s]/.test(part))
      return { ok: false, error: `segment '${part}' may not contain brackets, '*', '$' or spaces` };
    segments.push({ kind: "member", name: part });
  }
  return { ok: true, segments };
}

/** A response path: JSONPath when it starts with `$`, a dot path otherwise. Wildcards are not allowed. */
export function parseValuePath(path: string): ParseResult {
  const parsed = path.startsWith("$") ? parseJsonPath(path) : parseDotPath(path);
  if (parsed.ok && parsed.segments.some((s) => s.kind === "wildcard")) {
    return { ok: false, error: "must point at one value (no wildcards)" };
  }
  return parsed;
}

/** Reads one value by parsed segments; array elements are addressed by index, or by a numeric member name. */
export function readPath(value: unknown, segments: readonly PathSegment[]): unknown {
  let current: unknown = value;
  for (const segment of segments) {
    if (current === null || typeof current !== "object") return undefined;
    if (segment.kind === "wildcard") return undefined;
    if (Array.isArray(current)) {
      const index = segment.kind === "index" ? segment.index : /^\d+$/.test(segment.name) ? Number(segment.name) : -1;
      current = index >= 0 ? current[index] : undefined;
    } else {
      const key = segment.kind === "index" ? String(segment.index) : segment.name;
      current = Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
    }
  }
  return current;
}

const dotPathCache = new Map<string, PathSegment[]>();

/** Reads a dot path or `$` path inside an object; invalid paths read as undefined (configs are validated on save). */
export function readValue(value: unknown, path: string): unknown {
  let segments = dotPathCache.get(path);
  if (!segments) {
    const parsed = parseValuePath(path);
    if (!parsed.ok) return undefined;
    segments = parsed.segments;
    if (dotPathCache.size < 10_000) dotPathCache.set(path, segments);
  }
  return readPath(value, segments);
}
