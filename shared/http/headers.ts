/** The value of header `name` (any case: HTTP header names are case-insensitive), or undefined. */
export function headerValue(
  headers: Record<string, string | undefined> | null | undefined,
  name: string,
): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers ?? {})) if (key.toLowerCase() === lower) return value ?? undefined;
  return undefined;
}
