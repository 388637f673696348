/**
 * The local API Gateway over real HTTP on 127.0.0.1, with recording handlers and authorizer: the event each handler
 * receives, and the envelope answers for what API Gateway handles itself.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalHttpServer, startHttpServer } from "../../infra/local/http-server.js";
import type { AuthorizerContext } from "../../shared/http/authorizer.js";
import type { ApiHandler } from "../../shared/http/middleware.js";
import type { ApiFunctionName } from "../../shared/http/routes.js";
import { createLogger } from "../../shared/log.js";

const VALID_KEY = "rds_valid";
const CALLER: AuthorizerContext = { tenantId: "acme", keyId: "key-1", scopes: "read,sync,admin" };

interface Invocation {
  fn: ApiFunctionName;
  event: APIGatewayProxyEvent;
  context: Context;
}

describe("local HTTP server (API Gateway emulation)", () => {
  let server: LocalHttpServer;
  const invocations: Invocation[] = [];
  const authorized: Array<Record<string, string>> = [];
  let respond: (event: APIGatewayProxyEvent) => Promise<unknown> = async () => ({
    statusCode: 200,
    headers: { "Content-Type": "application/json", "X-Custom": "yes" },
    body: JSON.stringify({ success: true, data: { ok: true } }),
  });

  beforeAll(async () => {
    server = await startHttpServer({
      port: 0,
      log: createLogger({}, "silent"),
      timeoutMs: 300,
      handler: async (fn) => {
        const handler: ApiHandler = async (event, context) => {
          invocations.push({ fn, event, context });
          return (await respond(event)) as APIGatewayProxyResult;
        };
        return handler;
      },
      authorize: async (headers) => {
        authorized.push(headers);
        const value = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
        return value === `Bearer ${VALID_KEY}` ? CALLER : undefined;
      },
    });
  });

  afterAll(async () => {
    await server.stop(1_000);
  });

  beforeEach(() => {
    invocations.length = 0;
    authorized.length = 0;
    respond = async () => ({
      statusCode: 200,
      headers: { "Content-Type": "application/json", "X-Custom": "yes" },
      body: JSON.stringify({ success: true, data: { ok: true } }),
    });
  });

  const auth = { Authorization: `Bearer ${VALID_KEY}` };

  it("hands the route's function an API Gateway REST event and returns its response as is", async () => {
    respond = async () => ({
      statusCode: 202,
      headers: { "X-Custom": "yes", "Content-Type": "application/json" },
      multiValueHeaders: { "Set-Cookie": ["a=1", "b=2"] },
      body: '{"success":true,"data":{"jobs":[]}}',
    });
    const response = await fetch(
      `${server.url}/api/v1/integrations/slack/reference-data/sync?mode=full&tag=a&tag=b&q=sarah%20c`,
      {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json", "X-Trace-Me": "1" },
        body: '{"dataType":"users"}',
      },
    );

    expect(response.status).toBe(202);
    expect(response.headers.get("x-custom")).toBe("yes");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.text()).toBe('{"success":true,"data":{"jobs":[]}}');
    expect(invocations).toHaveLength(1);
    const { fn, event, context } = invocations[0] as Invocation;
    expect(fn).toBe("api-sync");
    expect(event).toMatchObject({
      resource: "/api/v1/integrations/{integrationId}/reference-data/sync",
      path: "/api/v1/integrations/slack/reference-data/sync",
      httpMethod: "POST",
      pathParameters: { integrationId: "slack" },
      queryStringParameters: { mode: "full", tag: "b", q: "sarah c" },
      multiValueQueryStringParameters: { mode: ["full"], tag: ["a", "b"], q: ["sarah c"] },
      body: '{"dataType":"users"}',
      isBase64Encoded: false,
      requestContext: {
        httpMethod: "POST",
        resourcePath: "/api/v1/integrations/{integrationId}/reference-data/sync",
        authorizer: { tenantId: "acme", keyId: "key-1", scopes: "read,sync,admin" },
      },
    });
    expect(event.headers["X-Trace-Me"]).toBe("1");
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("x-amzn-requestid")).toBe(event.requestContext.requestId);
    expect(context.functionName).toBe("api-sync");
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(300);
  });

  it("prefers a literal segment over a path parameter, as API Gateway does", async () => {
    await fetch(`${server.url}/api/v1/integrations/slack/reference-data/context?dataTypes=users`, { headers: auth });
    await fetch(`${server.url}/api/v1/integrations/slack/reference-data/users`, { headers: auth });

    expect(invocations.map((i) => [i.fn, i.event.resource, i.event.pathParameters])).toEqual([
      ["api-query", "/api/v1/integrations/{integrationId}/reference-data/context", { integrationId: "slack" }],
      [
        "api-query",
        "/api/v1/integrations/{integrationId}/reference-data/{dataType}",
        { integrationId: "slack", dataType: "users" },
      ],
    ]);
  });

  it("answers 401 INVALID_API_KEY without calling the handler when the key is missing or unknown", async () => {
    for (const headers of [{}, { Authorization: "Bearer rds_unknown" }] as Array<Record<string, string>>) {
      const response = await fetch(`${server.url}/api/v1/integrations/slack/reference-data`, { headers });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { error: { requestId: string } };
      expect(body).toMatchObject({ success: false, error: { code: "INVALID_API_KEY" } });
      expect(body.error.requestId).toBe(response.headers.get("x-amzn-requestid"));
    }
    expect(invocations).toHaveLength(0);
  });

  it("serves public routes without running the authorizer", async () => {
    const response = await fetch(`${server.url}/api/v1/health`);

    expect(response.status).toBe(200);
    expect(authorized).toHaveLength(0);
    expect(invocations[0]?.event.requestContext.authorizer).toBeNull();
  });

  it("answers 404 NOT_FOUND in the envelope for a path no route matches", async () => {
    const response = await fetch(`${server.url}/api/v1/nothing/here`, { headers: auth });

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ success: false, error: { code: "NOT_FOUND" } });
    expect(invocations).toHaveLength(0);
  });

  it("answers 405 with the allowed methods for a known path and a wrong method", async () => {
    const response = await fetch(`${server.url}/api/v1/integrations/slack/reference-data/sync`, {
      method: "DELETE",
      headers: auth,
    });

    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(await response.json()).toMatchObject({
      success: false,
      error: { code: "METHOD_NOT_ALLOWED", details: { allowed: ["POST"] } },
    });
  });

  it("answers 400 for a path with broken percent-encoding", async () => {
    const response = await fetch(`${server.url}/api/v1/integrations/%E0%A4%A/reference-data`, { headers: auth });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ success: false, error: { code: "VALIDATION_ERROR" } });
  });

  it("turns a handler crash into a 502 envelope that hides the error", async () => {
    respond = async () => {
      throw new Error("secret internals at /srv/app.js:12");
    };
    const response = await fetch(`${server.url}/api/v1/integrations/slack/reference-data`, { headers: auth });

    expect(response.status).toBe(502);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ success: false, error: { code: "INTERNAL_ERROR" } });
    expect(text).not.toContain("secret internals");
  });

  it("answers 502 for a malformed proxy response and 504 for a handler past its timeout", async () => {
    respond = async () => ({ body: "no status" });
    const malformed = await fetch(`${server.url}/api/v1/integrations/slack/reference-data`, { headers: auth });
    expect(malformed.status).toBe(502);

    let release: () => void = () => undefined;
    respond = () =>
      new Promise((resolve) => {
        release = () => resolve({ statusCode: 200, body: "{}" });
      });
    const slow = await fetch(`${server.url}/api/v1/integrations/slack/reference-data`, { headers: auth });
    release();
    expect(slow.status).toBe(504);
    expect(await slow.json()).toMatchObject({ success: false, error: { code: "TIMEOUT" } });
  });

  it("answers 413 for a payload above API Gateway's 10 MB limit without calling the handler", async () => {
    const response = await fetch(`${server.url}/api/v1/integrations/slack/reference-data/sources/users`, {
      method: "PUT",
      headers: { ...auth, "Content-Type": "application/json" },
      body: "x".repeat(10 * 1024 * 1024 + 1),
    });

    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ success: false, error: { code: "PAYLOAD_TOO_LARGE" } });
    expect(invocations).toHaveLength(0);
  });

  it("passes a CORS preflight to the handler without the authorizer", async () => {
    respond = async () => ({ statusCode: 204, headers: { "Access-Control-Allow-Methods": "GET" }, body: "" });
    const response = await fetch(`${server.url}/api/v1/integrations/slack/reference-data`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" },
    });

    expect(response.status).toBe(204);
    expect(authorized).toHaveLength(0);
    expect(invocations[0]?.event.httpMethod).toBe("OPTIONS");
  });
});

describe("local HTTP server authorizer cache", () => {
  it("reuses an allowed caller for the cache period, as API Gateway does, and never caches a denial", async () => {
    let now = 1_000_000;
    let allowed = new Set([`Bearer ${VALID_KEY}`]);
    let calls = 0;
    const server = await startHttpServer({
      port: 0,
      log: createLogger({}, "silent"),
      authorizerCacheMs: 60_000,
      now: () => now,
      handler: async () => async () => ({ statusCode: 200, body: JSON.stringify({ success: true, data: {} }) }),
      authorize: async (headers) => {
        calls++;
        return allowed.has(headers.authorization ?? headers.Authorization ?? "") ? CALLER : undefined;
      },
    });
    const get = (key: string) =>
      fetch(`${server.url}/api/v1/integrations/slack/reference-data`, { headers: { Authorization: `Bearer ${key}` } });
    try {
      expect((await get("rds_other")).status).toBe(401);
      expect((await get(VALID_KEY)).status).toBe(200);
      allowed = new Set(); // the key is revoked
      expect((await get(VALID_KEY)).status).toBe(200);
      expect(calls).toBe(2);
      now += 60_001;
      expect((await get(VALID_KEY)).status).toBe(401);
      expect((await get("rds_other")).status).toBe(401);
      expect(calls).toBe(4);
    } finally {
      await server.stop(1_000);
    }
  });
});
