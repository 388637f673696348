/**
 * Extensions: the fields only this service knows (`deletedField`, `deletedValues`, `incremental`, `request`, a
 * `pagination` override), added to a discovered source with `PATCH …/sources/{dataType}` `{ extensions }` and kept
 * when discovery refreshes the source. The effective config is the discovered one with the extensions laid over it.
 */
export const EXTENSION_FIELDS = ["deletedField", "deletedValues", "incremental", "request", "pagination"] as const;

/** Applies a patch key by key (`null` removes one); undefined when nothing is left. */
export function patchExtensions(
  current: Record<string, unknown> | undefined,
  patch: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const next: Record<string, unknown> = { ...(current ?? {}) };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return Object.keys(next).length > 0 ? next : undefined;
}

/** The effective `referenceData`: the discovered config with the extensions laid over it. */
export function mergeExtensions(
  discovered: Record<string, unknown>,
  extensions: Record<string, unknown> | undefined,
): Record<string, unknown> {
  return { ...discovered, ...(extensions ?? {}) };
}
