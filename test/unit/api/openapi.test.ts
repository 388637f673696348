import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildOpenApiDocument } from "../../../shared/api/openapi.js";
import { httpRoute, ok } from "../../../shared/http/middleware.js";
import { ROUTES } from "../../../shared/http/routes.js";

type Operation = {
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  security: unknown[];
  "x-required-scope": string;
};

const lookup = httpRoute(
  {
    scope: "read",
    path: z.object({ integrationId: z.string(), dataType: z.string().min(2) }),
    query: z.object({ query: z.string().min(1), limit: z.coerce.number().int().max(50).default(5) }),
    response: { data: z.object({ matches: z.array(z.string()) }), paginated: true },
  },
  async () => ok({ matches: [] }),
);
const put = httpRoute({ scope: "admin", body: z.object({ name: z.string() }), response: { status: 201 } }, async () =>
  ok(null),
);

describe("buildOpenApiDocument", () => {
  const doc = buildOpenApiDocument({ lookup, putSource: put });
  const op = (path: string, method: string) => doc.paths[path]?.[method] as Operation;

  it("lists every route of the table, even those without schemas", () => {
    const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(count).toBe(ROUTES.length);
    const health = op("/api/v1/health", "get");
    expect(health.security).toEqual([]);
    expect(health.responses["401"]).toBeUndefined();
  });

  it("takes path and query parameters from the schemas, marking required ones", () => {
    const lookupOp = op("/api/v1/integrations/{integrationId}/reference-data/{dataType}/lookup", "get");
    expect(lookupOp.parameters).toEqual([
      { name: "integrationId", in: "path", required: true, schema: { type: "string" } },
      { name: "dataType", in: "path", required: true, schema: { type: "string", minLength: 2 } },
      { name: "query", in: "query", required: true, schema: { type: "string", minLength: 1 } },
      expect.objectContaining({ name: "limit", in: "query", required: false }),
    ]);
    expect(lookupOp["x-required-scope"]).toBe("read");
  });

  it("wraps data in the success envelope with pagination for paged routes", () => {
    const schema = op("/api/v1/integrations/{integrationId}/reference-data/{dataType}/lookup", "get").responses["200"]
      ?.content?.["application/json"]?.schema;
    expect(schema).toEqual(
      expect.objectContaining({
        required: ["success", "data"],
        properties: expect.objectContaining({ pagination: { $ref: "#/components/schemas/Pagination" } }),
      }),
    );
  });

  it("documents bodies with 413 and the route's own success status", () => {
    const putOp = op("/api/v1/integrations/{integrationId}/reference-data/sources/{dataType}", "put");
    expect(putOp.requestBody?.required).toBe(true);
    expect(putOp.requestBody?.content["application/json"]?.schema).toEqual(
      expect.objectContaining({ properties: { name: { type: "string" } } }),
    );
    expect(Object.keys(putOp.responses)).toEqual(expect.arrayContaining(["201", "413", "401", "403"]));
    expect(putOp.responses["200"]).toBeUndefined();
  });
});

describe("the served document", () => {
  it("documents the credentials, discovery and extensions routes from their schemas, and the key errors", async () => {
    const { credentialsRoutes } = await import("../../../shared/api/credentials/routes.js");
    const { discoveryRoutes } = await import("../../../shared/api/discovery/routes.js");
    const doc = buildOpenApiDocument({ ...credentialsRoutes, ...discoveryRoutes });
    const put = doc.paths["/api/v1/gateway/credentials"]?.put as Operation;
    expect(put.requestBody?.required).toBe(true);
    expect(JSON.stringify(put.requestBody)).toContain("apiKey");
    expect(put.responses["503"]).toBeDefined();
    expect(JSON.stringify(put.responses["400"])).toContain("INVALID_GATEWAY_KEY");
    expect(put["x-required-scope"]).toBe("admin");
    expect(doc.paths["/api/v1/gateway/credentials"]).toHaveProperty("get");
    expect(doc.paths["/api/v1/gateway/credentials"]).toHaveProperty("delete");
    const discovery = doc.paths["/api/v1/discovery"]?.get as Operation;
    expect(JSON.stringify(discovery.responses["200"])).toContain("shadowed");
    expect(doc.paths["/api/v1/discovery"]?.post).toBeDefined();
    const patch = doc.paths["/api/v1/integrations/{integrationId}/reference-data/sources/{dataType}"]
      ?.patch as Operation;
    expect(patch.requestBody?.required).toBe(true);
    expect(JSON.stringify(patch.requestBody)).toContain("extensions");
  });
});
