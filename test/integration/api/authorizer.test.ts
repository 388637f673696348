import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../../../functions/authorizer/handler.js";
import { runApiKeyCommand } from "../../../infra/local/api-key-cli.js";
import { localHandlers } from "../../../infra/local/handlers.js";
import { authorize, bearerToken } from "../../../shared/http/authorizer.js";
import { hashApiKey, keys } from "../../../shared/storage/keys.js";
import { authorizerEvent } from "../../support/api-events.js";
import { freshStack, type Servers, type Stack, startServers } from "./fixture.js";

const METHOD_ARN =
  "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/api/v1/integrations/slack/reference-data/sync";

let servers: Servers;
let stack: Stack;
beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  await servers.stop();
});

async function newKey(tenantId = "tenant-a", scopes: ("read" | "sync" | "admin")[] = ["read", "sync"]) {
  return stack.repos.apiKeys.create(tenantId, { name: "test", scopes, now: stack.clock.now() });
}

describe("authorizer handler", () => {
  it("allows a valid key for the whole stage, with the tenant, key and scopes in the context", async () => {
    const { key, apiKey } = await newKey();

    const result = await handler(authorizerEvent({ Authorization: `Bearer ${key}` }, METHOD_ARN));

    expect(result.principalId).toBe(`tenant-a/${apiKey.keyId}`);
    expect(result.context).toEqual({ tenantId: "tenant-a", keyId: apiKey.keyId, scopes: "read,sync" });
    expect(result.policyDocument.Statement).toEqual([
      {
        Action: "execute-api:Invoke",
        Effect: "Allow",
        Resource: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*",
      },
    ]);
  });

  it("accepts any header case and scheme case", async () => {
    const { key } = await newKey();

    const result = await handler(authorizerEvent({ authorization: `bearer ${key}` }, METHOD_ARN));

    expect(result.context?.tenantId).toBe("tenant-a");
  });

  it("answers Unauthorized for a revoked key", async () => {
    const { key, apiKey } = await newKey();
    await stack.repos.apiKeys.revoke("tenant-a", apiKey.keyId, stack.clock.now());

    await expect(handler(authorizerEvent({ Authorization: `Bearer ${key}` }, METHOD_ARN))).rejects.toThrow(
      /^Unauthorized$/,
    );
  });

  it.each([
    ["an unknown key", { Authorization: `Bearer rds_${"A".repeat(43)}` }],
    ["a malformed key", { Authorization: "Bearer not-a-key" }],
    ["another scheme", { Authorization: "Basic dXNlcjpwYXNz" }],
    ["two tokens", { Authorization: "Bearer a b" }],
    ["an empty bearer", { Authorization: "Bearer " }],
    ["no Authorization header", {}],
  ])("answers Unauthorized for %s", async (_what, headers: Record<string, string>) => {
    await expect(handler(authorizerEvent(headers, METHOD_ARN))).rejects.toThrow(/^Unauthorized$/);
  });

  it.each([
    ["scopes", { scopes: ["read", "root"] }],
    ["tenantId", { tenantId: 7 }],
    ["revokedAt", { revokedAt: true }],
  ])("fails (500, not 401) on a stored key row with invalid %s", async (field, change) => {
    const key = `rds_${field.padEnd(43, "Z")}`;
    await servers.dynamo.doc.send(
      new PutCommand({
        TableName: stack.tableName,
        Item: { ...keys.apiKey(hashApiKey(key)), tenantId: "tenant-a", keyId: "k1", scopes: ["read"], ...change },
      }),
    );

    const attempt = handler(authorizerEvent({ Authorization: `Bearer ${key}` }, METHOD_ARN));

    await expect(attempt).rejects.toThrow(/Stored API key row .* is invalid/);
    await expect(attempt).rejects.toMatchObject({ details: { field } });
  });

  it("fails (500, not 401) when the table cannot be read", async () => {
    const { key } = await newKey();
    const failing = {
      ...stack.repos.apiKeys,
      resolve: async () => {
        throw new Error("DynamoDB unavailable");
      },
    };

    await expect(authorize({ Authorization: `Bearer ${key}` }, failing)).rejects.toThrow("DynamoDB unavailable");
  });
});

describe("authorize(headers) for the local server", () => {
  it("returns the caller of a valid key and undefined otherwise", async () => {
    const { key, apiKey } = await newKey("tenant-b", ["admin"]);
    const { authorize } = localHandlers();

    expect(await authorize({ Authorization: `Bearer ${key}` })).toEqual({
      tenantId: "tenant-b",
      keyId: apiKey.keyId,
      scopes: "admin",
    });
    expect(await authorize({ Authorization: `Bearer ${key}x` })).toBeUndefined();
    expect(await authorize({})).toBeUndefined();
  });

  it("parses only well-formed bearer headers", () => {
    expect(bearerToken({ Authorization: "Bearer abc" })).toBe("abc");
    expect(bearerToken({ Authorization: "Bearer  abc " })).toBe("abc");
    expect(bearerToken({ Authorization: "Token abc" })).toBeUndefined();
    expect(bearerToken({ Authorization: "Bearer a\u0000b" })).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
  });
});

describe("api-key CLI", () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), now: () => stack.clock.now() },
    };
  }

  it("creates a key that the authorizer accepts, lists it, revokes it, and the authorizer then refuses it", async () => {
    const created = io();
    const code = await runApiKeyCommand(
      stack.repos.apiKeys,
      ["create", "--tenant", "tenant-cli", "--name", "ops", "--scopes", "read,admin"],
      created.io,
    );
    expect(code).toBe(0);
    const key = created.out.find((line) => line.startsWith("rds_")) ?? "";
    const keyId = /keyId (\S+),/.exec(created.out[0] ?? "")?.[1] ?? "";
    expect(await authorize({ Authorization: `Bearer ${key}` }, stack.repos.apiKeys)).toEqual({
      tenantId: "tenant-cli",
      keyId,
      scopes: "read,admin",
    });

    const listed = io();
    expect(await runApiKeyCommand(stack.repos.apiKeys, ["list", "--tenant", "tenant-cli"], listed.io)).toBe(0);
    expect(listed.out).toEqual([expect.stringMatching(new RegExp(`^${keyId}\\tops\\tread,admin\\t.*\\tactive$`))]);
    expect(listed.out.join("\n")).not.toContain(key);

    const revoked = io();
    expect(
      await runApiKeyCommand(stack.repos.apiKeys, ["revoke", "--tenant", "tenant-cli", "--key-id", keyId], revoked.io),
    ).toBe(0);
    expect(await authorize({ Authorization: `Bearer ${key}` }, stack.repos.apiKeys)).toBeUndefined();
  });

  it("defaults new keys to read,sync", async () => {
    const created = io();
    await runApiKeyCommand(stack.repos.apiKeys, ["create", "--tenant", "tenant-default"], created.io);

    expect(created.out[0]).toContain("scopes read,sync");
  });

  it.each([
    [["create"], /--tenant/],
    [["create", "--tenant", "a#b"], /--tenant/],
    [["create", "--tenant", "t", "--scopes", "read,root"], /--scopes/],
    [["create", "--tenant", "t", "--bogus", "x"], /unknown option/],
    [["revoke", "--tenant", "t"], /--key-id/],
    [["revoke", "--tenant", "t", "--key-id", "01NOPE"], /not found/],
  ])("exits non-zero with a clear message for %j", async (argv, message) => {
    const run = io();

    const code = await runApiKeyCommand(stack.repos.apiKeys, argv, run.io);

    expect(code).not.toBe(0);
    expect(run.err.join("\n")).toMatch(message);
  });

  it("prints usage for an unknown command", async () => {
    const run = io();

    expect(await runApiKeyCommand(stack.repos.apiKeys, ["rotate"], run.io)).toBe(2);
    expect(run.err.join("\n")).toContain("usage:");
  });
});
