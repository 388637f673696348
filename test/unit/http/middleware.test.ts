import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from "../../../shared/domain/errors.js";
import {
  accepted,
  created,
  type HttpRoute,
  httpRoute,
  MAX_BODY_BYTES,
  ok,
  raw,
  routeHandler,
} from "../../../shared/http/middleware.js";
import type { Logger } from "../../../shared/log.js";
import { apiEvent, lambdaContext, parseResponse } from "../../support/api-events.js";

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function recordingLogger(lines: LogLine[], base: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, message, fields: { ...base, ...fields } });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

const statusPath = "/api/v1/integrations/slack/reference-data/sync/status";
const syncPath = "/api/v1/integrations/slack/reference-data/sync";
const tenantA = { tenantId: "tenant-a" };

function handlerWith(routes: Record<string, HttpRoute>, lines: LogLine[] = [], origins: string[] = []) {
  return routeHandler(routes, { logger: recordingLogger(lines), allowedOrigins: origins });
}

const echoStatus = httpRoute(
  {
    scope: "read",
    path: z.object({ integrationId: z.string() }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
  },
  async ({ tenantId, keyId, path, query, requestId }) => ok({ tenantId, keyId, path, query, requestId }),
);

const echoTrigger = httpRoute(
  {
    scope: "sync",
    path: z.object({ integrationId: z.string() }),
    body: z.object({ dataType: z.string().optional(), force: z.boolean().optional() }).strict().default({}),
  },
  async ({ tenantId, body }) => accepted({ tenantId, body }),
);

describe("routeHandler dispatch", () => {
  it("serves a route with the tenant from the authorizer context and typed query values", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const event = apiEvent({ method: "GET", path: statusPath, query: { limit: "7" }, caller: tenantA });

    const res = parseResponse<Record<string, unknown>>(await handler(event, lambdaContext()));

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: {
        tenantId: "tenant-a",
        keyId: "test-key",
        path: { integrationId: "slack" },
        query: { limit: 7 },
        requestId: event.requestContext.requestId,
      },
    });
    expect(res.headers["X-Request-Id"]).toBe(event.requestContext.requestId);
  });

  it("ignores tenant hints in headers, query and path: only the authorizer context names the tenant", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const event = apiEvent({
      method: "GET",
      path: statusPath,
      query: { tenantId: "tenant-b" },
      headers: { "X-Waygate-Tenant-Id": "tenant-b" },
      caller: tenantA,
    });

    const res = parseResponse<{ tenantId: string }>(await handler(event, lambdaContext()));

    expect(res.body.data?.tenantId).toBe("tenant-a");
  });

  it("matches on path when the resource is not a known template, preferring literal segments", async () => {
    const handler = handlerWith({
      getContext: httpRoute({ scope: "read" }, async () => ok("context")),
      getReferenceDataByType: httpRoute({ scope: "read" }, async ({ path }) => ok(`type:${path.dataType}`)),
    });
    const contextEvent = apiEvent({
      method: "GET",
      path: "/api/v1/integrations/slack/reference-data/context",
      caller: tenantA,
      resource: "/{proxy+}",
    });
    const typeEvent = apiEvent({
      method: "GET",
      path: "/api/v1/integrations/slack/reference-data/users",
      caller: tenantA,
      resource: "/{proxy+}",
    });

    expect(parseResponse(await handler(contextEvent, lambdaContext())).body.data).toBe("context");
    expect(parseResponse(await handler(typeEvent, lambdaContext())).body.data).toBe("type:users");
  });

  it("answers 404 NOT_FOUND in the envelope for an unknown path", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = parseResponse(
      await handler(apiEvent({ method: "GET", path: "/api/v1/nope", caller: tenantA }), lambdaContext()),
    );

    expect(res.status).toBe(404);
    expect(res.body.success).toBe(false);
    expect(res.body.error?.code).toBe("NOT_FOUND");
    expect(res.body.error?.suggestedResolution?.action).toBe("RETRY_WITH_MODIFIED_INPUT");
  });

  it("answers 405 listing the allowed methods for a known path with another method", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = parseResponse(
      await handler(apiEvent({ method: "DELETE", path: statusPath, caller: tenantA }), lambdaContext()),
    );

    expect(res.status).toBe(405);
    expect(res.body.error?.code).toBe("METHOD_NOT_ALLOWED");
    expect(res.body.error?.details).toEqual({ allowed: ["GET"] });
  });

  it("answers 404 for a route of the table that this function does not serve", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = parseResponse(
      await handler(
        apiEvent({ method: "GET", path: "/api/v1/integrations/slack/reference-data", caller: tenantA }),
        lambdaContext(),
      ),
    );

    expect(res.status).toBe(404);
  });

  it("refuses at load time an operationId missing from the route table or with another scope", () => {
    expect(() => handlerWith({ notARoute: echoStatus })).toThrow(/not in shared\/http\/routes.ts/);
    expect(() => handlerWith({ triggerSync: echoStatus })).toThrow(/scope 'read' but routes.ts says 'sync'/);
  });
});

describe("httpRoute authentication", () => {
  it("answers 401 INVALID_API_KEY without an authorizer context", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = parseResponse(
      await handler(apiEvent({ method: "GET", path: statusPath, caller: null }), lambdaContext()),
    );

    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe("INVALID_API_KEY");
    expect(res.body.error?.suggestedResolution?.action).toBe("CHECK_API_KEY");
  });

  it("answers 401 when the authorizer context carries a malformed tenant", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = await handler(
      apiEvent({ method: "GET", path: statusPath, caller: { tenantId: "T#evil#I#x" } }),
      lambdaContext(),
    );

    expect(res.statusCode).toBe(401);
  });

  it("answers 403 FORBIDDEN when the key lacks the route's scope", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const res = parseResponse(
      await handler(
        apiEvent({ method: "POST", path: syncPath, body: {}, caller: { tenantId: "tenant-a", scopes: ["read"] } }),
        lambdaContext(),
      ),
    );

    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("FORBIDDEN");
    expect(res.body.error?.details).toEqual({ required: "sync", granted: ["read"] });
  });

  it("serves public routes without an authorizer context", async () => {
    const handler = handlerWith({ health: httpRoute({ scope: "public" }, async () => ok({ status: "ok" })) });
    const res = parseResponse(
      await handler(apiEvent({ method: "GET", path: "/api/v1/health", caller: null }), lambdaContext()),
    );

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ status: "ok" });
  });
});

describe("httpRoute validation", () => {
  it("answers 400 VALIDATION_ERROR naming the query field", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const res = parseResponse(
      await handler(
        apiEvent({ method: "GET", path: statusPath, query: { limit: "lots" }, caller: tenantA }),
        lambdaContext(),
      ),
    );

    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("VALIDATION_ERROR");
    expect(res.body.error?.details?.issues).toEqual([expect.objectContaining({ field: "limit" })]);
    expect(res.body.error?.message).toContain("query parameters");
  });

  it("answers 400 naming a body field of the wrong type", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const res = parseResponse(
      await handler(
        apiEvent({ method: "POST", path: syncPath, body: { force: "yes" }, caller: tenantA }),
        lambdaContext(),
      ),
    );

    expect(res.status).toBe(400);
    expect(res.body.error?.details?.issues).toEqual([expect.objectContaining({ field: "force" })]);
  });

  it("answers 400 INVALID_REQUEST for a malformed JSON body", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const res = parseResponse(
      await handler(
        apiEvent({ method: "POST", path: syncPath, body: '{"dataType": ', caller: tenantA }),
        lambdaContext(),
      ),
    );

    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("INVALID_REQUEST");
    expect(res.body.error?.details).toEqual({ field: "body" });
  });

  it("parses an empty body as undefined, so a schema default applies", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const res = parseResponse<{ body: unknown }>(
      await handler(apiEvent({ method: "POST", path: syncPath, caller: tenantA }), lambdaContext()),
    );

    expect(res.status).toBe(202);
    expect(res.body.data?.body).toEqual({});
  });

  it("answers 413 PAYLOAD_TOO_LARGE for a body over 256 KB, plain or base64", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const big = JSON.stringify({ dataType: "x".repeat(MAX_BODY_BYTES) });
    const plain = parseResponse(
      await handler(apiEvent({ method: "POST", path: syncPath, body: big, caller: tenantA }), lambdaContext()),
    );
    const encoded = parseResponse(
      await handler(
        apiEvent({
          method: "POST",
          path: syncPath,
          body: Buffer.from(big).toString("base64"),
          isBase64Encoded: true,
          caller: tenantA,
        }),
        lambdaContext(),
      ),
    );

    expect(plain.status).toBe(413);
    expect(plain.body.error?.code).toBe("PAYLOAD_TOO_LARGE");
    expect(encoded.status).toBe(413);
  });

  it("accepts a body of exactly 256 KB", async () => {
    const handler = handlerWith({ triggerSync: echoTrigger });
    const prefix = '{"dataType":"';
    const body = `${prefix}${"x".repeat(MAX_BODY_BYTES - prefix.length - 2)}"}`;
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);

    const res = await handler(apiEvent({ method: "POST", path: syncPath, body, caller: tenantA }), lambdaContext());

    expect(res.statusCode).toBe(202);
  });

  it("answers 400 for a path parameter that is not valid percent-encoding", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus });
    const event = apiEvent({ method: "GET", path: statusPath, caller: tenantA });
    event.pathParameters = { integrationId: "%E0%A4%A" };

    const res = await handler(event, lambdaContext());

    expect(res.statusCode).toBe(400);
  });
});

describe("error mapping", () => {
  const failing = (error: unknown) =>
    handlerWith(
      {
        getSyncStatus: httpRoute({ scope: "read" }, async () => {
          throw error;
        }),
      },
      [],
    );
  const call = async (error: unknown) =>
    parseResponse(
      await failing(error)(apiEvent({ method: "GET", path: statusPath, caller: tenantA }), lambdaContext()),
    );

  it.each([
    [new ValidationError("bad", { field: "x" }), 400, "VALIDATION_ERROR"],
    [new NotFoundError("none"), 404, "NOT_FOUND"],
    [new NotFoundError("none", undefined, "INTEGRATION_NOT_FOUND"), 404, "INTEGRATION_NOT_FOUND"],
    [new ConflictError("raced"), 409, "CONFLICT"],
  ])("maps %s to its status and code", async (error, status, code) => {
    const res = await call(error);

    expect(res.status).toBe(status);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.requestId).toEqual(expect.any(String));
  });

  it("maps RateLimitedError to 429 with Retry-After and retryAfterMs", async () => {
    const res = await call(new RateLimitedError("slow down", 42));

    expect(res.status).toBe(429);
    expect(res.headers["Retry-After"]).toBe("42");
    expect(res.body.error?.suggestedResolution).toEqual(
      expect.objectContaining({ action: "RETRY_AFTER_DELAY", retryable: true, retryAfterMs: 42_000 }),
    );
  });

  it("turns an unexpected error into a logged 500 INTERNAL_ERROR without its message or stack", async () => {
    const lines: LogLine[] = [];
    const handler = handlerWith(
      {
        getSyncStatus: httpRoute({ scope: "read" }, async () => {
          throw new TypeError("secret internals at /var/task/index.mjs");
        }),
      },
      lines,
    );

    const result = await handler(apiEvent({ method: "GET", path: statusPath, caller: tenantA }), lambdaContext());
    const res = parseResponse(result);

    expect(res.status).toBe(500);
    expect(res.body.error?.code).toBe("INTERNAL_ERROR");
    expect(result.body).not.toContain("secret internals");
    expect(result.body).not.toContain("stack");
    const logged = lines.find((l) => l.level === "error");
    expect(logged?.fields.error).toBeInstanceOf(TypeError);
  });
});

describe("responses", () => {
  it("returns the status the route asks for: 201, 202, raw JSON", async () => {
    const handler = handlerWith({
      putSource: httpRoute({ scope: "admin" }, async () => created({ id: 1 })),
      triggerSync: httpRoute({ scope: "sync" }, async () => accepted({ jobs: [] })),
      openapi: httpRoute({ scope: "public" }, async () => raw({ openapi: "3.1.0" })),
    });

    const put = await handler(
      apiEvent({ method: "PUT", path: "/api/v1/integrations/slack/reference-data/sources/users", caller: tenantA }),
      lambdaContext(),
    );
    const trigger = await handler(apiEvent({ method: "POST", path: syncPath, caller: tenantA }), lambdaContext());
    const doc = await handler(apiEvent({ method: "GET", path: "/api/v1/openapi.json", caller: null }), lambdaContext());

    expect(put.statusCode).toBe(201);
    expect(trigger.statusCode).toBe(202);
    expect(JSON.parse(doc.body)).toEqual({ openapi: "3.1.0" });
  });

  it("includes pagination in the success envelope", async () => {
    const handler = handlerWith({
      getSyncStatus: httpRoute({ scope: "read" }, async () => ok([1, 2], { cursor: "c", hasMore: true })),
    });
    const res = parseResponse(
      await handler(apiEvent({ method: "GET", path: statusPath, caller: tenantA }), lambdaContext()),
    );

    expect(res.body).toEqual({ success: true, data: [1, 2], pagination: { cursor: "c", hasMore: true } });
  });
});

describe("CORS", () => {
  const origin = "https://app.waygate.example";

  it("adds CORS headers for an allowed origin, on success and on error", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus }, [], [origin]);
    const good = await handler(
      apiEvent({ method: "GET", path: statusPath, caller: tenantA, headers: { Origin: origin } }),
      lambdaContext(),
    );
    const bad = await handler(
      apiEvent({ method: "GET", path: statusPath, caller: null, headers: { origin } }),
      lambdaContext(),
    );

    expect(good.headers?.["Access-Control-Allow-Origin"]).toBe(origin);
    expect(bad.statusCode).toBe(401);
    expect(bad.headers?.["Access-Control-Allow-Origin"]).toBe(origin);
  });

  it("adds no CORS headers for another origin", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus }, [], [origin]);
    const res = await handler(
      apiEvent({ method: "GET", path: statusPath, caller: tenantA, headers: { Origin: "https://evil.example" } }),
      lambdaContext(),
    );

    expect(res.statusCode).toBe(200);
    expect(res.headers?.["Access-Control-Allow-Origin"]).toBeUndefined();
  });

  it("answers a preflight OPTIONS with 204 and the route's methods", async () => {
    const handler = handlerWith({ getSyncStatus: echoStatus }, [], [origin]);
    const res = await handler(
      apiEvent({ method: "OPTIONS", path: statusPath, caller: null, headers: { Origin: origin } }),
      lambdaContext(),
    );

    expect(res.statusCode).toBe(204);
    expect(res.headers?.["Access-Control-Allow-Methods"]).toBe("GET,OPTIONS");
    expect(res.headers?.["Access-Control-Allow-Origin"]).toBe(origin);
  });
});
