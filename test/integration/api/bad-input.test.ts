/**
 * Bad input never becomes a 500: malformed JSON, wrong types, oversized bodies, garbage query strings and path
 * parameters, unknown routes and methods all get a 4xx with the error envelope, on every route of every API handler.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../../shared/http/middleware.js";
import { ROUTES } from "../../../shared/http/routes.js";
import type { ParsedResponse } from "../../support/api-events.js";
import {
  caller,
  completeSync,
  freshStack,
  type Handler,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "./fixture.js";
import { concretePath, loadApiHandlers } from "./handlers.js";

const T = "tenant-fuzz";
const params = { integrationId: "slack", dataType: "users", connectionId: "default" };

let servers: Servers;
let stack: Stack;
let handlers: Awaited<ReturnType<typeof loadApiHandlers>>;
const served = () => ROUTES.filter((r) => handlers[r.function] !== undefined);

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
  handlers = await loadApiHandlers();
  const refs = await seedIntegration(stack, {
    tenantId: T,
    integrationId: "slack",
    dataTypes: ["users", "channels"],
    connections: ["default", "conn-1"],
  });
  for (const [i, ref] of refs.entries())
    await completeSync(stack, ref, { jobId: `01JOBFUZZ00000000000000${i}0`, itemCount: 1 });
});
afterAll(async () => {
  await servers.stop();
});

function expectClientError(res: ParsedResponse, what: string) {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
  expect(res.body.success).toBe(false);
  expect(res.body.error?.code).toEqual(expect.any(String));
  expect(res.body.error?.requestId).toEqual(expect.any(String));
  expect(res.body.error?.suggestedResolution?.action).toEqual(expect.any(String));
}

function handlerFor(fn: string): Handler {
  const handler = handlers[fn as keyof typeof handlers];
  if (!handler) throw new Error(`no handler ${fn}`);
  return handler;
}

describe("bad input on every route", () => {
  it("covers the query, sync and config functions", () => {
    expect(Object.keys(handlers).sort()).toEqual(["api-config", "api-query", "api-sync"]);
  });

  it("answers 400 INVALID_REQUEST for a malformed JSON body on every route that takes a body", async () => {
    for (const route of served().filter((r) => r.method === "PUT" || r.method === "POST" || r.method === "PATCH")) {
      // These take no body: it is ignored.
      if (route.operationId === "enrollConnection" || route.operationId === "runDiscovery") continue;
      const res = await stack.call(handlerFor(route.function), {
        method: route.method,
        path: concretePath(route.path, params),
        body: '{"integrationSlug": "slack", ',
        caller: caller(T),
      });
      expectClientError(res, route.operationId);
      expect(res.body.error?.code).toBe("INVALID_REQUEST");
    }
  });

  it("answers 413 for a body over 256 KB on every route", async () => {
    const big = JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES) });
    for (const route of served()) {
      const res = await stack.call(handlerFor(route.function), {
        method: route.method,
        path: concretePath(route.path, params),
        body: big,
        caller: route.auth === "public" ? null : caller(T),
      });
      expect(res.status, route.operationId).toBe(413);
      expectClientError(res, route.operationId);
    }
  });

  /** A source body whose `referenceData.request.x` nests `levels` arrays. */
  const deepSource = (levels: number) =>
    `{"integrationSlug":"slack","actionSlug":"list-users","referenceData":{"dataType":"users",` +
    `"extractionPath":"$.members[*]","request":{"x":${"[".repeat(levels)}${"]".repeat(levels)}}}}`;
  const putSource = (body: string) =>
    stack.call(handlerFor("api-config"), {
      method: "PUT",
      path: "/api/v1/integrations/slack/reference-data/sources/users",
      body,
      caller: caller(T, ["admin"]),
    });

  it("answers 400 naming the field for a body nested 100,000 levels deep, never a stack overflow", async () => {
    const res = await putSource(deepSource(100_000));
    expectClientError(res, "deep body");
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error?.details)).toContain("referenceData.request.x");
    expect(res.body.error?.message).toMatch(/32 levels/);
  });

  it("rejects a body deeper than DynamoDB's 32 levels and accepts one that fits", async () => {
    // Body → referenceData → request → x: three levels before the arrays start.
    const tooDeep = await putSource(deepSource(30));
    expect(tooDeep.status, JSON.stringify(tooDeep.body)).toBe(400);
    const fits = await putSource(deepSource(29));
    expect(fits.status, JSON.stringify(fits.body)).toBeLessThan(300);
  });

  it("never answers 5xx to deeply nested JSON on any route that takes a body (property)", async () => {
    const routes = served().filter((r) => r.method === "PUT" || r.method === "POST");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.integer({ min: 1, max: 60_000 }),
        fc.constantFrom("[", '{"a":'),
        async (route, levels, opener) => {
          const closer = opener === "[" ? "]" : "}";
          const body = `{"referenceData":{"request":${opener.repeat(levels)}1${closer.repeat(levels)}}}`;
          const res = await stack.call(handlerFor(route.function), {
            method: route.method,
            path: concretePath(route.path, params),
            body,
            caller: caller(T),
          });
          expect(res.status, `${route.operationId} depth ${levels}`).toBeLessThan(500);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("answers 4xx for JSON of the wrong shape on every route that takes a body", async () => {
    const shapes = [
      "[]",
      "null",
      '"text"',
      "42",
      "true",
      '{"referenceData": []}',
      '{"mode": 1}',
      '{"dataTypes": "users"}',
    ];
    for (const route of served().filter((r) => r.method === "PUT" || r.method === "POST")) {
      if (route.operationId === "enrollConnection") continue;
      for (const body of shapes) {
        const res = await stack.call(handlerFor(route.function), {
          method: route.method,
          path: concretePath(route.path, params),
          body,
          caller: caller(T),
        });
        expectClientError(res, `${route.operationId} ${body}`);
      }
    }
  });

  it("never answers 5xx to random query strings, bodies and path parameters (property)", async () => {
    const routes = served();
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "-1", "0", "1e309", "NaN", "true", "%", "#", "a#b", "users", "x".repeat(300), "\u0000"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.dictionary(
          fc.constantFrom(
            "limit",
            "cursor",
            "status",
            "dataType",
            "connectionId",
            "summary",
            "q",
            "search",
            "query",
            "maxTokens",
            "dataTypes",
            "includeInactive",
          ),
          text,
          { maxKeys: 4 },
        ),
        fc.option(fc.oneof(fc.json(), text), { nil: undefined }),
        fc.record({ integrationId: text, dataType: text, connectionId: text }),
        async (route, query, body, pathParams) => {
          const path = concretePath(route.path, {
            integrationId: pathParams.integrationId || "slack",
            dataType: pathParams.dataType || "users",
            connectionId: pathParams.connectionId || "default",
          });
          const res = await stack.call(handlerFor(route.function), {
            method: route.method,
            path,
            query,
            body,
            caller: route.auth === "public" ? null : caller(T),
          });
          expect(res.status, `${route.operationId} ${path} ${JSON.stringify(query)} ${String(body)}`).toBeLessThan(500);
          if (res.status >= 400) expectClientError(res, route.operationId);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("answers 404 NOT_FOUND for unknown paths and 405 for unknown methods, on every handler", async () => {
    for (const [name, handler] of Object.entries(handlers)) {
      for (const path of [
        "/",
        "/api/v1",
        "/api/v2/health",
        "/api/v1/integrations/slack",
        "/api/v1/integrations/slack/reference-data/users/lookup/extra",
      ]) {
        const res = await stack.call(handler, { method: "GET", path, caller: caller(T) });
        expect(res.status, `${name} ${path}`).toBe(404);
        expectClientError(res, `${name} ${path}`);
      }
      for (const route of ROUTES.filter((r) => r.function === name)) {
        const served = new Set(ROUTES.filter((r) => r.path === route.path).map((r) => r.method as string));
        for (const method of ["PATCH", "HEAD", "TRACE"].filter((m) => !served.has(m))) {
          const res = await stack.call(handler, { method, path: concretePath(route.path, params), caller: caller(T) });
          expect(res.status, `${name} ${method} ${route.path}`).toBe(405);
          expectClientError(res, `${method} ${route.path}`);
        }
      }
    }
  });

  it("answers 401 on every authenticated route without an authorizer context, before reading any input", async () => {
    for (const route of served().filter((r) => r.auth !== "public")) {
      const res = await stack.call(handlerFor(route.function), {
        method: route.method,
        path: concretePath(route.path, params),
        body: "{not json",
        caller: null,
      });
      expect(res.status, route.operationId).toBe(401);
      expect(res.body.error?.code).toBe("INVALID_API_KEY");
    }
  });
});
