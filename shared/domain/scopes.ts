/**
 * What an API key may do. Plain values (the zod schema is `apiKeyScopeSchema` in entities.ts), so the authorizer can
 * check a stored key's scopes without loading zod.
 */
export const API_KEY_SCOPES = ["read", "sync", "admin"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly unknown[]).includes(value);
}
