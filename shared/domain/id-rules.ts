/**
 * The rules of IDs as plain values: what building a key checks (shared/storage/keys.ts). Kept apart from their zod
 * schemas (ids.ts, which re-exports these), so a function that only builds keys, the authorizer, does not load zod.
 */

/** Caller-supplied IDs (tenant, integration, connection, dataType). Never contain `#`, the key separator. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** External IDs come from upstream APIs; they are the last key component, so only their length is bounded. */
export const MAX_EXTERNAL_ID_LENGTH = 512;
