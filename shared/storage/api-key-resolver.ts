/**
 * Resolving an API key: the plain key → its tenant, key ID and scopes, found by the key's SHA-256. The rest of the API
 * keys' storage is shared/storage/api-key-repository.ts, whose `resolve` is this; it is apart, and checks the row by
 * hand rather than with zod, because the authorizer, in front of every cold request, needs only this.
 */
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { InternalError } from "../domain/errors.js";
import { isApiKeyScope } from "../domain/scopes.js";
import { hashApiKey, keys } from "./keys.js";
import type { ResolvedApiKey } from "./ports.js";

/** `rds_` and 32 random bytes in base64url (43 characters). */
export const API_KEY_PATTERN = /^rds_[A-Za-z0-9_-]{43}$/;

/** undefined for a malformed key (without touching DynamoDB), an unknown key, or a revoked one. */
export async function resolveApiKey(
  doc: DynamoDBDocumentClient,
  tableName: string,
  plainKey: string,
): Promise<ResolvedApiKey | undefined> {
  if (typeof plainKey !== "string" || !API_KEY_PATTERN.test(plainKey)) return undefined;
  const result = await doc.send(new GetCommand({ TableName: tableName, Key: keys.apiKey(hashApiKey(plainKey)) }));
  if (!result.Item) return undefined;
  const { tenantId, keyId, scopes, revokedAt } = result.Item;
  const invalid =
    typeof tenantId !== "string"
      ? "tenantId"
      : typeof keyId !== "string"
        ? "keyId"
        : !Array.isArray(scopes) || !scopes.every(isApiKeyScope)
          ? "scopes"
          : revokedAt !== undefined && typeof revokedAt !== "string"
            ? "revokedAt"
            : undefined;
  if (invalid !== undefined) {
    throw new InternalError(`Stored API key row ${String(result.Item.PK)} / ${String(result.Item.SK)} is invalid`, {
      field: invalid,
    });
  }
  if (revokedAt !== undefined) return undefined;
  return { tenantId, keyId, scopes };
}
