/**
 * API keys. The plain key is returned once by create and never stored: the key row is found by the key's SHA-256
 * (before any tenant is known) and yields the tenant; a listing row under the tenant holds what the owner may see.
 */
import { randomBytes } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { iso } from "../domain/clock.js";
import { ConflictError, InternalError, NotFoundError } from "../domain/errors.js";
import { type ApiKey, type ApiKeyScope, apiKeySchema, apiKeyScopeSchema } from "../domain/index.js";
import { ulid } from "../domain/ulid.js";
import { parseOrThrow } from "../domain/validate.js";
import { resolveApiKey } from "./api-key-resolver.js";
import { conditional, isConditionFailed, sleep as realSleep } from "./ddb.js";
import { hashApiKey, keys } from "./keys.js";
import type { ApiKeyRepository, ResolvedApiKey } from "./ports.js";
import { parseRow, queryPrefix, type Row } from "./rows.js";
import { TABLE_DEFINITION } from "./table.js";

export { API_KEY_PATTERN } from "./api-key-resolver.js";

const newKeySchema = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(apiKeyScopeSchema).min(1).max(3),
});

export class DynamoApiKeyRepository implements ApiKeyRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly sleep: (ms: number) => Promise<void> = realSleep,
  ) {}

  /**
   * Writes the key row before the listing row. A crash in between leaves an orphan key row whose plain key was never
   * returned to anyone, so nothing can authenticate with it; and every listed key is guaranteed to have a key row,
   * which revoke relies on.
   */
  async create(
    tenantId: string,
    input: { name: string; scopes: ApiKeyScope[]; now: number },
  ): Promise<{ key: string; apiKey: ApiKey }> {
    const { name, scopes } = parseOrThrow(newKeySchema, { name: input.name, scopes: input.scopes }, "API key");
    const key = `rds_${randomBytes(32).toString("base64url")}`;
    const apiKey: ApiKey = {
      tenantId,
      keyId: ulid(input.now),
      name,
      scopes: [...new Set(scopes)],
      createdAt: iso(input.now),
    };
    const listing = keys.apiKeyListing(tenantId, apiKey.keyId);
    await conditional(
      () =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...keys.apiKey(hashApiKey(key)),
              ...keys.apiKeyRef(tenantId, apiKey.keyId),
              entity: "apiKey",
              ...apiKey,
            },
            ConditionExpression: "attribute_not_exists(PK)",
          }),
        ),
      "API key collision; retry",
    );
    await conditional(
      () =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...listing, entity: "apiKeyListing", ...apiKey },
            ConditionExpression: "attribute_not_exists(PK)",
          }),
        ),
      "API key id collision; retry",
    );
    return { key, apiKey };
  }

  /** undefined for a malformed key (without touching DynamoDB), an unknown key, or a revoked one. */
  resolve(plainKey: string): Promise<ResolvedApiKey | undefined> {
    return resolveApiKey(this.doc, this.tableName, plainKey);
  }

  async list(tenantId: string): Promise<ApiKey[]> {
    const apiKeys: ApiKey[] = [];
    const query = { pk: keys.apiKeyListing(tenantId, "x").PK, prefix: keys.apiKeyListingPrefix };
    for await (const row of queryPrefix(this.doc, this.tableName, query)) {
      apiKeys.push(parseRow(apiKeySchema, row, "API key listing"));
    }
    return apiKeys;
  }

  /**
   * Revokes the key row first (what resolve reads), then the listing: a crash in between leaves a revoked key that
   * still lists as active, and revoking again completes it.
   */
  async revoke(tenantId: string, keyId: string, now: number): Promise<void> {
    const listingKey = keys.apiKeyListing(tenantId, keyId);
    const listing = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: listingKey, ConsistentRead: true }),
    );
    if (!listing.Item) throw new NotFoundError(`API key ${keyId} not found`, { keyId });
    if (listing.Item.revokedAt !== undefined) throw new ConflictError(`API key ${keyId} is already revoked`, { keyId });
    const at = iso(now);
    const keyRow = await this.findKeyRow(tenantId, keyId);
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { PK: keyRow.PK, SK: keyRow.SK },
        UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :at)",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":at": at },
      }),
    );
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: listingKey,
          UpdateExpression: "SET revokedAt = :at",
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(revokedAt)",
          ExpressionAttributeValues: { ":at": at },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new ConflictError(`API key ${keyId} is already revoked`, { keyId });
      throw error;
    }
  }

  /**
   * The key row of (tenant, keyId) through GSI1. Every listed key has one (create writes it first), but the index is
   * eventually consistent, so a key created a moment ago may not be there yet: a few short retries cover that, and
   * past them the caller gets a retryable error rather than a listing marked revoked over a key that still works.
   */
  private async findKeyRow(tenantId: string, keyId: string): Promise<Row> {
    const ref = keys.apiKeyRef(tenantId, keyId);
    for (let attempt = 1; ; attempt++) {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_DEFINITION.dueIndex.name,
          KeyConditionExpression: "GSI1PK = :pk AND GSI1SK = :sk",
          ExpressionAttributeValues: { ":pk": ref.GSI1PK, ":sk": ref.GSI1SK },
        }),
      );
      const rows = (result.Items ?? []) as Row[];
      if (rows.length > 1) throw new InternalError(`API key ${keyId} has ${rows.length} key rows`, { keyId });
      if (rows[0]) return rows[0];
      if (attempt >= 4) {
        throw new InternalError(`API key ${keyId} is not indexed yet; retry the revocation`, {
          keyId,
          retryable: true,
        });
      }
      await this.sleep(100 * attempt);
    }
  }
}
