/**
 * `GET /api/v1/integrations` through the handlers on dynalite: the tenant's configured integrations with their slugs
 * and counts, never another tenant's, and an integration drops out once nothing of it is configured.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { handler as queryHandler } from "../../../functions/api-query/handler.js";
import { caller, freshStack, listSource, type Servers, type Stack, startServers } from "./fixture.js";

const A = "tenant-integrations-a";
const B = "tenant-integrations-b";
const PATH = "/api/v1/integrations";

let servers: Servers;
let stack: Stack;

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  await servers.stop();
});

const put = (tenantId: string, path: string, body?: unknown) =>
  stack.call(configHandler, { method: "PUT", path, caller: caller(tenantId), ...(body ? { body } : {}) });

describe("GET /integrations", () => {
  it("lists the caller's configured integrations with their slug and counts, and no other tenant's", async () => {
    await put(A, "/api/v1/integrations/slack-1/reference-data/sources/users", listSource("users"));
    await put(A, "/api/v1/integrations/slack-1/reference-data/sources/channels", listSource("channels"));
    await put(A, "/api/v1/integrations/slack-1/connections/default");
    await put(A, "/api/v1/integrations/gh-1/reference-data/sources/repos", {
      ...listSource("repos"),
      integrationSlug: "github",
    });
    await put(B, "/api/v1/integrations/other/reference-data/sources/users", listSource("users"));

    const a = await stack.call<unknown[]>(queryHandler, { method: "GET", path: PATH, caller: caller(A, ["read"]) });
    const b = await stack.call<unknown[]>(queryHandler, { method: "GET", path: PATH, caller: caller(B, ["read"]) });

    expect(a.status).toBe(200);
    expect(a.body.data).toEqual([
      { integrationId: "gh-1", integrationSlug: "github", sources: 1, connections: 0 },
      { integrationId: "slack-1", integrationSlug: "slack", sources: 2, connections: 1 },
    ]);
    expect(b.body.data).toEqual([{ integrationId: "other", integrationSlug: "slack", sources: 1, connections: 0 }]);
  });

  it("drops an integration once its last source and connection are gone", async () => {
    const path = "/api/v1/integrations/gh-1/reference-data/sources/repos";
    await stack.call(configHandler, { method: "DELETE", path, caller: caller(A) });

    const after = await stack.call<{ integrationId: string }[]>(queryHandler, {
      method: "GET",
      path: PATH,
      caller: caller(A, ["read"]),
    });

    expect(after.body.data?.map((integration) => integration.integrationId)).toEqual(["slack-1"]);
  });

  it("needs an API key with the read scope", async () => {
    const unauthenticated = await stack.call(queryHandler, { method: "GET", path: PATH });
    const syncOnly = await stack.call(queryHandler, { method: "GET", path: PATH, caller: caller(A, ["sync"]) });

    expect(unauthenticated.status).toBe(401);
    expect(syncOnly.status).toBe(403);
  });
});
