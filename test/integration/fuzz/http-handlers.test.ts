/**
 * Fuzzing the deployed API handlers (api-query, api-sync, api-config) and the authorizer with fast-check, on dynalite
 * and fauxqs. test/integration/api/bad-input.test.ts already throws random query strings, bodies and path parameters
 * at every route; this goes further into what API Gateway can hand a Lambda: random and mismatched methods, headers
 * (CORS origins, content types, odd casing), base64 bodies that are not base64, a `resource` that disagrees with the
 * path, percent-encoding that does not decode, authorizer contexts of the wrong shape, real cursors that were tampered
 * with, and bodies shaped like real ones (sources with random `referenceData`, sync triggers with random fields) so
 * requests get past JSON parsing into the services. Every answer is a 2xx, or a 4xx with the error envelope; never a
 * 5xx, never a thrown handler, never an unhandled rejection.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Item } from "../../../shared/domain/entities.js";
import { ROUTES, type RouteDefinition } from "../../../shared/http/routes.js";
import { apiEvent, authorizerEvent, lambdaContext } from "../../support/api-events.js";
import {
  caller,
  completeSync,
  freshStack,
  type Handler,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "../api/fixture.js";
import { concretePath, loadApiHandlers } from "../api/handlers.js";

const T = "tenant-http-fuzz";
const OTHER = "tenant-http-other";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

let servers: Servers;
let stack: Stack;
let handlers: Awaited<ReturnType<typeof loadApiHandlers>>;
/** Real cursors of both tenants, to be replayed and tampered with. */
const cursors: string[] = [];

function item(externalId: string, name: string, status: Item["status"]): Item {
  const at = new Date(stack.clock.now()).toISOString();
  return {
    externalId,
    name,
    lookup: { name },
    metadata: { email: `${externalId.toLowerCase()}@fuzz.example`, title: "Engineer" },
    status,
    contentHash: `hash-${externalId}`,
    jobId: "01JOBHTTPFUZZ0000000000000",
    change: "created",
    createdAt: at,
    updatedAt: at,
  };
}

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  servers = await startServers();
  stack = await freshStack(servers);
  handlers = await loadApiHandlers();
  for (const tenantId of [T, OTHER]) {
    const refs = await seedIntegration(stack, {
      tenantId,
      integrationId: "slack",
      dataTypes: ["users", "channels"],
      connections: ["default", "conn-1"],
    });
    for (const [i, ref] of refs.entries()) {
      const names = ["Sarah Chen", "Sarah Connor", "Zoë Wu", "José Álvarez", "Derek Osgood", "#general"];
      await stack.repos.items.batchPut(
        ref,
        names.map((name, n) => item(`${ref.dataType}-${i}-${n}`, name, n === names.length - 1 ? "inactive" : "active")),
      );
      const prefix = tenantId === T ? "01JOBHTTPFUZZA" : "01JOBHTTPFUZZB";
      await completeSync(stack, ref, { jobId: `${prefix}${String(i).padStart(12, "0")}`, itemCount: names.length });
    }
  }
  const base = "/api/v1/integrations/slack/reference-data";
  for (const tenantId of [T, OTHER]) {
    for (const [fn, path, query] of [
      ["api-query", base, { limit: "1", status: "all" }],
      ["api-query", `${base}/users`, { limit: "1" }],
      ["api-sync", `${base}/sync/status`, { limit: "1" }],
    ] as const) {
      const handler = handlers[fn];
      if (!handler) continue;
      const res = await stack.call(handler, { method: "GET", path, query, caller: caller(tenantId) });
      if (res.body.pagination?.cursor) cursors.push(res.body.pagination.cursor);
    }
  }
});
afterEach(() => {
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await servers?.stop();
});

function handlerFor(route: RouteDefinition): Handler {
  const handler = handlers[route.function];
  if (!handler) throw new Error(`no handler for ${route.function}`);
  return handler;
}

/** The response is a 2xx, or a 4xx carrying the error envelope; it is never a 5xx. */
function expectWellFormed(result: APIGatewayProxyResult, what: string, raw = false): void {
  const context = `${what} → ${result.statusCode} ${result.body?.slice(0, 300)}`;
  expect(result.statusCode, context).toBeGreaterThanOrEqual(200);
  expect(result.statusCode, context).toBeLessThan(500);
  expect(result.statusCode >= 300 && result.statusCode < 400, context).toBe(false);
  if (result.statusCode === 204) return;
  const body = JSON.parse(result.body) as Record<string, unknown>;
  if (result.statusCode >= 400) {
    expect(body, context).toMatchObject({
      success: false,
      error: {
        code: expect.any(String),
        message: expect.any(String),
        requestId: expect.any(String),
        suggestedResolution: { action: expect.any(String), retryable: expect.any(Boolean) },
      },
    });
    expect(result.body, context).not.toMatch(/\n\s+at /);
  } else if (!raw) {
    expect(body.success, context).toBe(true);
    expect(body, context).toHaveProperty("data");
  }
}

/** Mostly a valid value, now and then an invalid one: random bodies should get past validation often enough. */
function mostly<T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: 25, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

/** JSON whose numbers DynamoDB can store (safe integers, ordinary floats). */
const storableJson = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc
      .double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true })
      .filter((n) => n === 0 || Math.abs(n) > 1e-9),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie("value"), { maxKeys: 3 }),
  ),
})).value;

const idish = fc.oneof(
  fc.constantFrom("slack", "users", "channels", "default", "conn-1", "sync", "context", "sources", "lookup"),
  fc.constantFrom("%", "%zz", "%2F", "%23", "a%00b", "a#b", "..", "x".repeat(200), "é", "Ünïcödé", " ", "%E0%A4%A"),
  fc.string({ maxLength: 30 }),
);
const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom("", "0", "-1", "501", "1e9", "NaN", "true", "false", "all", "%", "\u0000", "x".repeat(5000)),
);
const cursorValue = fc.oneof(
  // Read lazily: the real cursors are collected in beforeAll, after this module is loaded.
  fc.nat().map((n) => cursors[n % Math.max(1, cursors.length)] ?? "none"),
  fc.string({ maxLength: 80 }),
  fc.tuple(fc.nat(), fc.constantFrom("A", "_", "-", "=", "%", "")).map(([n, c]) => {
    const real = cursors[n % Math.max(1, cursors.length)] ?? "";
    const at = real.length === 0 ? 0 : n % real.length;
    return `${real.slice(0, at)}${c}${real.slice(at + 1)}`;
  }),
);
const query = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      "limit",
      "cursor",
      "status",
      "dataType",
      "dataTypes",
      "connectionId",
      "summary",
      "q",
      "search",
      "query",
      "maxTokens",
      "includeInactive",
    ),
    fc.string({ maxLength: 12 }),
  ),
  fc.oneof(text, cursorValue),
  { maxKeys: 5 },
);
const headers = fc.dictionary(
  fc.constantFrom(
    "Origin",
    "origin",
    "Content-Type",
    "content-type",
    "Content-Length",
    "Authorization",
    "X-Request-Id",
    "Accept",
    "Cookie",
    "X-Forwarded-For",
  ),
  fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("*", "null", "https://evil.example", "text/plain", "-1")),
  { maxKeys: 4 },
);
const authorizer = fc.oneof(
  { weight: 6, arbitrary: fc.constant("valid" as const) },
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        tenantId: fc.oneof(fc.constantFrom(T, "", "a#b", "T#x", "x".repeat(200)), fc.jsonValue({ maxDepth: 1 })),
        keyId: fc.jsonValue({ maxDepth: 1 }),
        scopes: fc.oneof(
          fc.constantFrom("read,sync,admin", "read", "READ", " admin ", "", ",,,"),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        principalId: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: [] },
    ),
  },
);

describe("the API handlers under random API Gateway events", () => {
  it("cover every route of the route table", () => {
    for (const route of ROUTES) expect(handlers[route.function], route.operationId).toBeDefined();
    expect(cursors.length, "real cursors to tamper with").toBeGreaterThanOrEqual(4);
  });

  it("answer 2xx or an enveloped 4xx to events of any shape (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          route: fc.constantFrom(...ROUTES),
          method: fc.oneof(
            { weight: 5, arbitrary: fc.constant(undefined) },
            {
              weight: 1,
              arbitrary: fc.constantFrom("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "get"),
            },
          ),
          params: fc.record({
            integrationId: mostly(fc.constant("slack"), idish),
            dataType: mostly(fc.constantFrom("users", "channels"), idish),
            connectionId: mostly(fc.constantFrom("default", "conn-1"), idish),
          }),
          encode: fc.boolean(),
          otherResource: fc.oneof(
            { weight: 9, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.constantFrom(...ROUTES.map((r) => r.path)) },
          ),
          query,
          headers,
          body: fc.option(
            fc.oneof(
              text,
              fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ""),
            ),
            {
              nil: undefined,
            },
          ),
          base64: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
          authorizer,
          scopes: fc.subarray(["read", "sync", "admin"]),
        }),
        async (input) => {
          const route = input.route;
          const path = input.encode
            ? concretePath(route.path, input.params)
            : route.path.replace(/\{([^}]+)\}/g, (_, name: "integrationId") => input.params[name] || "x");
          let event: APIGatewayProxyEvent;
          try {
            event = apiEvent({
              method: input.method ?? route.method,
              path,
              query: input.query,
              headers: input.headers,
              ...(input.body === undefined ? {} : { body: input.body }),
              isBase64Encoded: input.base64,
              caller: input.authorizer === "valid" ? caller(T, input.scopes) : null,
              ...(input.otherResource ? { resource: input.otherResource } : {}),
            });
          } catch {
            // The event builder resolves the path like API Gateway; a path API Gateway could not route never arrives.
            return;
          }
          if (input.authorizer !== "valid" && input.authorizer !== null) {
            event.requestContext.authorizer = input.authorizer as APIGatewayProxyEvent["requestContext"]["authorizer"];
          }
          const result = await handlerFor(route)(event, lambdaContext());
          // API Gateway dispatches on `resource`: the OpenAPI document is the one answer without an envelope.
          const raw =
            event.resource === "/api/v1/openapi.json" || (route.operationId === "openapi" && !input.otherResource);
          expectWellFormed(result, `${route.operationId} ${event.resource} ${event.httpMethod} ${path}`, raw);
        },
      ),
      { numRuns: 400, seed: 1_701, endOnFailure: true },
    );
  });

  it("answer 2xx or an enveloped 4xx to bodies shaped like real ones (property)", async () => {
    const referenceData = (dataType: string) =>
      fc
        .record(
          {
            dataType: mostly(fc.constant(dataType), idish),
            syncable: mostly(fc.constant(true), fc.oneof(fc.constant(false), fc.jsonValue({ maxDepth: 0 }))),
            syncType: mostly(fc.constantFrom("list", "object"), fc.constantFrom("tree", 1)),
            extractionPath: mostly(
              fc.constantFrom("$.members[*]", "$", "$.value", "$.data.items[0]", "$['@odata'][*]"),
              fc.constantFrom("$..x", "$.members[", "$[?(@.a)]", "members", "", 3),
            ),
            idField: mostly(fc.constantFrom("id", "profile.id", "ids[0]"), fc.constantFrom("a..b", "", "$.id")),
            nameField: mostly(
              fc.constantFrom("name", "profile.real_name"),
              fc.constantFrom("[0]", "", "x".repeat(300)),
            ),
            lookupFields: mostly(
              fc.array(fc.constantFrom("name", "email", "profile.title"), { maxLength: 3 }),
              fc.array(fc.constantFrom("", "a.b.", "$"), { minLength: 1, maxLength: 12 }),
            ),
            fuzzyMatch: mostly(fc.boolean(), fc.constant("yes")),
            metadataFields: mostly(
              fc.array(fc.constantFrom("email", "api_token", "profile.title", "accessToken"), { maxLength: 4 }),
              fc.array(fc.constantFrom("", "a["), { minLength: 1 }),
            ),
            defaultTtlSeconds: mostly(
              fc.integer({ min: 60, max: 31_536_000 }),
              fc.constantFrom(-1, 59, 1.5, "60", null, 1e12),
            ),
            deletedField: mostly(fc.constantFrom("deleted", "is_deleted"), fc.constantFrom("", "a b")),
            pagination: mostly(
              fc.oneof(
                fc.constant({ strategy: "none" }),
                fc.record({
                  strategy: fc.constant("cursor"),
                  cursorPath: fc.constantFrom("response_metadata.next_cursor", "$.next"),
                  cursorParam: fc.constant("cursor"),
                }),
                fc.record({ strategy: fc.constant("offset"), pageSize: fc.integer({ min: 1, max: 10_000 }) }),
                fc.record({ strategy: fc.constant("page"), maxPages: fc.integer({ min: 1, max: 100_000 }) }),
                fc.record({ strategy: fc.constant("link"), nextLinkPath: fc.constant("$['@odata.nextLink']") }),
                fc.constant({ strategy: "gateway" }),
              ),
              fc.record({
                strategy: fc.constantFrom("cursor", "offset", "magic"),
                cursorPath: fc.constantFrom("a[", ""),
                pageSize: fc.integer({ min: -1, max: 20_000 }),
                maxPages: fc.integer({ min: 0, max: 200_000 }),
              }),
            ),
            incremental: mostly(
              fc.record({ sinceParam: fc.constant("since"), fullSyncEverySeconds: fc.integer({ min: 300, max: 9e6 }) }),
              fc.record({ sinceParam: fc.constant(""), fullSyncEverySeconds: fc.integer({ min: -5, max: 299 }) }),
            ),
            // Mostly numbers DynamoDB can store, so sources get saved; any JSON (2^64, 1e-300...) must be a 400.
            request: mostly(
              fc.dictionary(fc.string({ maxLength: 8 }), storableJson, { maxKeys: 3 }),
              fc.oneof(fc.constant([]), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))),
            ),
          },
          { requiredKeys: ["dataType", "syncType", "extractionPath"] },
        )
        .chain((config) =>
          mostly(
            fc.constant(config),
            fc.jsonValue({ maxDepth: 1 }).map((extra) => ({ ...config, unknownField: extra })),
          ),
        );
    const sourceBody = (dataType: string) =>
      fc.record(
        {
          integrationSlug: mostly(
            fc.constantFrom("slack", "github"),
            fc.constantFrom("", "Bad Slug!", "x".repeat(200)),
          ),
          actionSlug: mostly(fc.constantFrom("list-users", "list.channels"), fc.constantFrom("", "/etc")),
          referenceData: referenceData(dataType),
        },
        { requiredKeys: ["integrationSlug", "actionSlug", "referenceData"] },
      );
    const triggerBody = fc
      .record(
        {
          connectionId: mostly(fc.constantFrom("default", "conn-1"), fc.oneof(fc.constant("nope"), idish)),
          dataType: mostly(fc.constantFrom("users", "channels"), fc.oneof(fc.constant("repos"), idish)),
          dataTypes: mostly(
            fc.array(fc.constantFrom("users", "channels"), { minLength: 1, maxLength: 3 }),
            fc.oneof(fc.array(fc.constantFrom("sync", "a#b"), { maxLength: 200 }), text),
          ),
          mode: mostly(fc.constantFrom("full", "incremental"), fc.constantFrom("partial", 1)),
          force: mostly(fc.boolean(), fc.constant("true")),
        },
        { requiredKeys: [] },
      )
      .chain((body) =>
        mostly(
          fc.constant(body),
          fc.jsonValue({ maxDepth: 1 }).map((extra) => ({ ...body, extra })),
        ),
      );
    const put = ROUTES.find((r) => r.operationId === "putSource") as RouteDefinition;
    const trigger = ROUTES.find((r) => r.operationId === "triggerSync") as RouteDefinition;
    // The first property may have revoked connections and deleted sources: start from a configured integration.
    await seedIntegration(stack, {
      tenantId: T,
      integrationId: "slack",
      dataTypes: ["users", "channels"],
      connections: ["default", "conn-1"],
    });
    const accepted: Record<string, number> = { putSource: 0, triggerSync: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("users", "channels", "repos").chain((dataType) =>
          fc.oneof(
            sourceBody(dataType).map((body) => ({ route: put, body, dataType })),
            triggerBody.map((body) => ({ route: trigger, body, dataType })),
          ),
        ),
        fc.boolean(),
        async ({ route, body, dataType }, advance) => {
          // Past the one-minute throttle of manual triggers now and then, so triggers reach the queue too.
          if (advance) stack.clock.t += 61_000;
          const event = apiEvent({
            method: route.method,
            path: concretePath(route.path, { integrationId: "slack", dataType }),
            body,
            caller: caller(T),
          });
          const result = await handlerFor(route)(event, lambdaContext());
          expectWellFormed(result, `${route.operationId} ${JSON.stringify(body).slice(0, 200)}`);
          if (result.statusCode < 300) accepted[route.operationId] = (accepted[route.operationId] ?? 0) + 1;
        },
      ),
      { numRuns: 200, seed: 1_702, endOnFailure: true },
    );
    // Some bodies got all the way through the services.
    expect(accepted.putSource).toBeGreaterThan(0);
    expect(accepted.triggerSync).toBeGreaterThan(0);
  });

  it("the authorizer allows only real keys and denies anything else with 'Unauthorized' (property)", async () => {
    const { handler } = await import("../../../functions/authorizer/handler.js");
    const { key } = await stack.repos.apiKeys.create(T, { name: "fuzz", scopes: ["read"], now: stack.clock.now() });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom("Authorization", "authorization", "AUTHORIZATION", "X-Api-Key", "Cookie"),
          fc.oneof(
            fc.string({ maxLength: 80 }),
            fc.constantFrom(
              `Bearer ${key}`,
              `bearer  ${key}`,
              `Bearer ${key}x`,
              `Bearer ${key.slice(0, -1)}`,
              "Bearer",
            ),
            fc.string({ maxLength: 600 }).map((s) => `Bearer ${s}`),
          ),
          { maxKeys: 3 },
        ),
        async (headers) => {
          let allowed: string | undefined;
          try {
            const result = await handler(authorizerEvent(headers));
            allowed = result.context?.tenantId as string | undefined;
          } catch (error) {
            expect((error as Error).message).toBe("Unauthorized");
            return;
          }
          expect(allowed).toBe(T);
          const presented = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
          expect(presented?.trim().split(/ +/)[1]).toBe(key);
        },
      ),
      { numRuns: 150, seed: 1_703, endOnFailure: true },
    );
  });
});
