/**
 * JSON nesting depth, measured without recursion (a body nested 100,000 levels deep must not overflow the stack).
 * DynamoDB stores at most 32 levels of nested maps and lists, so that is the bound on every JSON body (DESIGN.md
 * "quotas").
 */

/** DynamoDB's nesting limit for maps and lists. */
export const MAX_JSON_DEPTH = 32;

/**
 * The path of the first value nested deeper than `maxDepth` containers (`{}` and `[]` each count one level), or
 * undefined when the value fits. The path is dot-joined (`referenceData.request.x.0`), cut after 20 segments.
 */
export function tooDeepPath(value: unknown, maxDepth: number = MAX_JSON_DEPTH): string | undefined {
  const stack: { value: unknown; depth: number; path: (string | number)[] }[] = [{ value, depth: 0, path: [] }];
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop() as (typeof stack)[number];
    if (current === null || typeof current !== "object") continue;
    if (depth + 1 > maxDepth) return describePath(path);
    const entries: [string | number, unknown][] = Array.isArray(current)
      ? current.map((child, index): [number, unknown] => [index, child])
      : Object.entries(current);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === "object")
        stack.push({ value: child, depth: depth + 1, path: [...path, key] });
    }
  }
  return undefined;
}

function describePath(path: (string | number)[]): string {
  const shown = path.slice(0, 20).join(".");
  return path.length > 20 ? `${shown}…` : shown || "(root)";
}
