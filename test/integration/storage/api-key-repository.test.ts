import { QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import { ConflictError, InternalError, NotFoundError, ValidationError } from "../../../shared/domain/errors.js";
import { hashApiKey } from "../../../shared/storage/keys.js";
import type { ApiKeyRepository } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { countRequests, newStore, T0 } from "./fixtures.js";

describe("DynamoApiKeyRepository", () => {
  let dynamo: TestDynamo;
  let apiKeys: ApiKeyRepository;
  let tableName: string;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    const store = await newStore(dynamo);
    apiKeys = store.repos.apiKeys;
    tableName = store.tableName;
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function allRows(): Promise<Record<string, unknown>[]> {
    return (await dynamo.doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  }

  it("creates a key returned once as rds_ + 43 base64url characters, storing only its SHA-256", async () => {
    const { key, apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["read", "sync"], now: T0 });
    expect(key).toMatch(/^rds_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({ tenantId: "acme", name: "CI", scopes: ["read", "sync"], createdAt: iso(T0) });

    const rows = await allRows();
    expect(rows).toHaveLength(2);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(4));
    const keyRow = rows.find((row) => row.entity === "apiKey");
    expect(keyRow?.PK).toBe(`KEY#${hashApiKey(key)}`);
    const listing = rows.find((row) => row.entity === "apiKeyListing");
    expect(listing?.PK).toBe("T#acme");
    expect(JSON.stringify(listing)).not.toContain(hashApiKey(key));
  });

  it("creates a different key every time", async () => {
    const a = await apiKeys.create("acme", { name: "a", scopes: ["read"], now: T0 });
    const b = await apiKeys.create("acme", { name: "b", scopes: ["read"], now: T0 });
    expect(a.key).not.toBe(b.key);
    expect(a.apiKey.keyId).not.toBe(b.apiKey.keyId);
  });

  it("resolves a key to its tenant, key id and scopes", async () => {
    const { key, apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["admin"], now: T0 });
    expect(await apiKeys.resolve(key)).toEqual({ tenantId: "acme", keyId: apiKey.keyId, scopes: ["admin"] });
  });

  it("resolves an unknown key to undefined", async () => {
    expect(await apiKeys.resolve(`rds_${"A".repeat(43)}`)).toBeUndefined();
  });

  it("resolves a malformed key to undefined without calling DynamoDB", async () => {
    const counter = countRequests(dynamo);
    cleanups.push(counter.stop);
    for (const bad of ["", "rds_short", `xyz_${"A".repeat(43)}`, `rds_${"A".repeat(42)}!`, `rds_${"A".repeat(44)}`]) {
      expect(await apiKeys.resolve(bad)).toBeUndefined();
    }
    expect(counter.counts.size).toBe(0);
  });

  it("lists a tenant's keys without the key or its hash", async () => {
    const { key } = await apiKeys.create("acme", { name: "CI", scopes: ["read"], now: T0 });
    await apiKeys.create("acme", { name: "ops", scopes: ["admin"], now: T0 + 1 });
    await apiKeys.create("globex", { name: "other", scopes: ["read"], now: T0 });
    const listed = await apiKeys.list("acme");
    expect(listed.map((k) => k.name).sort()).toEqual(["CI", "ops"]);
    expect(JSON.stringify(listed)).not.toContain(hashApiKey(key));
    for (const k of listed) expect(Object.keys(k).sort()).toEqual(["createdAt", "keyId", "name", "scopes", "tenantId"]);
  });

  it("revokes a key: it no longer resolves and both rows carry revokedAt", async () => {
    const { key, apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["read"], now: T0 });
    await apiKeys.revoke("acme", apiKey.keyId, T0 + 1000);
    expect(await apiKeys.resolve(key)).toBeUndefined();
    const [listed] = await apiKeys.list("acme");
    expect(listed?.revokedAt).toBe(iso(T0 + 1000));
    const keyRow = (
      await dynamo.doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "PK = :pk",
          ExpressionAttributeValues: { ":pk": `KEY#${hashApiKey(key)}` },
        }),
      )
    ).Items?.[0];
    expect(keyRow?.revokedAt).toBe(iso(T0 + 1000));
  });

  it("refuses to revoke a key twice with a ConflictError", async () => {
    const { apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["read"], now: T0 });
    await apiKeys.revoke("acme", apiKey.keyId, T0);
    await expect(apiKeys.revoke("acme", apiKey.keyId, T0 + 1)).rejects.toBeInstanceOf(ConflictError);
  });

  it("refuses to mark a key revoked while its key row is not yet indexed, so the key never outlives its listing", async () => {
    const { key, apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["read"], now: T0 });
    // The due index lags (eventual consistency): every GSI1 query comes back empty.
    const name = "gsi-lag";
    dynamo.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IndexName?: string };
        if (context.commandName === "QueryCommand" && input.IndexName === "GSI1") {
          return { output: { $metadata: {}, Items: [] }, response: {} } as Awaited<ReturnType<typeof next>>;
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    cleanups.push(() => dynamo.doc.middlewareStack.remove(name));
    const attempt = apiKeys.revoke("acme", apiKey.keyId, T0);
    await expect(attempt).rejects.toBeInstanceOf(InternalError);
    await expect(attempt).rejects.toMatchObject({ details: { retryable: true } });
    expect((await apiKeys.list("acme"))[0]?.revokedAt).toBeUndefined();
    expect(await apiKeys.resolve(key)).toBeDefined();
  });

  it("raises NotFoundError for an unknown key id, and for another tenant's key", async () => {
    const { key, apiKey } = await apiKeys.create("acme", { name: "CI", scopes: ["read"], now: T0 });
    await expect(apiKeys.revoke("acme", "01HZZZZZZZZZZZZZZZZZZZZZZZ", T0)).rejects.toBeInstanceOf(NotFoundError);
    await expect(apiKeys.revoke("globex", apiKey.keyId, T0)).rejects.toBeInstanceOf(NotFoundError);
    expect(await apiKeys.resolve(key)).toBeDefined();
  });

  it("rejects a key without a name or scopes, or with an unknown scope, as a ValidationError", async () => {
    await expect(apiKeys.create("acme", { name: "", scopes: ["read"], now: T0 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(apiKeys.create("acme", { name: "x", scopes: [], now: T0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      apiKeys.create("acme", { name: "x", scopes: ["root" as unknown as "read"], now: T0 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(apiKeys.create("ac#me", { name: "x", scopes: ["read"], now: T0 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await allRows()).toHaveLength(0);
  });
});
