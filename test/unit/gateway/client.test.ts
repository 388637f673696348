import { describe, expect, it } from "vitest";
import { createGatewayClient, type GatewayClientOptions, type InvokeRequest } from "../../../shared/gateway/client.js";
import { GatewayError } from "../../../shared/gateway/errors.js";

interface SentRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = Response | Error | "hang";

/** A fake fetch that answers scripted replies in order and records what was sent. */
function fakeFetch(replies: Reply[]) {
  const sent: SentRequest[] = [];
  const fn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries((init?.headers ?? {}) as Record<string, string>)) {
      headers[key.toLowerCase()] = value;
    }
    sent.push({
      url: String(input),
      method: init?.method ?? "GET",
      headers,
      body: JSON.parse(String(init?.body)),
    });
    const reply = replies.shift();
    if (reply === undefined) throw new Error("no scripted reply left");
    if (reply === "hang") {
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { fetch: fn as typeof fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

const ok = (data: unknown, meta: Record<string, unknown> = { requestId: "req-ok" }) =>
  json(200, { success: true, data, meta });

const fail = (status: number, code: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  json(
    status,
    { success: false, error: { code, message: `${code} happened`, requestId: "req-err", ...extra } },
    headers,
  );

/** A client on a fake clock: sleeping advances time, nothing really waits. */
function setup(replies: Reply[], overrides: Partial<GatewayClientOptions> = {}) {
  const { fetch, sent } = fakeFetch(replies);
  let now = 1_000_000;
  const sleeps: number[] = [];
  const client = createGatewayClient({
    baseUrl: "http://gateway.test/",
    apiKey: async (tenantId) => ({ apiKey: `tok-${tenantId}`, version: "v1" }),
    fetch,
    clock: { now: () => now },
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => 0.5,
    ...overrides,
  });
  return { client, sent, sleeps, now: () => now };
}

const request = (overrides: Partial<InvokeRequest> = {}): InvokeRequest => ({
  integrationSlug: "slack",
  actionSlug: "list-users",
  tenantId: "tenant-a",
  connectionId: "conn-1",
  idempotencyKey: "01JOB:3",
  input: { limit: 2 },
  deadline: 1_000_000 + 60_000,
  ...overrides,
});

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe("gateway client request", () => {
  it("posts the input to the action URL with the Waygate headers", async () => {
    const { client, sent } = setup([ok({ members: [] })]);
    const response = await client.invoke(request());
    expect(response.data).toEqual({ members: [] });
    expect(response.meta.requestId).toBe("req-ok");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      url: "http://gateway.test/api/v1/actions/slack/list-users",
      method: "POST",
      body: { limit: 2 },
      headers: {
        authorization: "Bearer tok-tenant-a",
        "x-waygate-connection-id": "conn-1",
        "x-idempotency-key": "01JOB:3",
        "content-type": "application/json",
      },
    });
  });

  it("omits the connection header for the default connection", async () => {
    const { client, sent } = setup([ok([])]);
    await client.invoke(request({ connectionId: "default" }));
    expect(sent[0]?.headers).not.toHaveProperty("x-waygate-connection-id");
    // Waygate takes the tenant from the key alone: no header names one.
    expect(sent[0]?.headers).not.toHaveProperty("x-waygate-tenant-id");
    expect(sent[0]?.headers.authorization).toBe("Bearer tok-tenant-a");
  });

  it("passes the same idempotency key on every retry of a page", async () => {
    const { client, sent } = setup([fail(500, "INTERNAL_ERROR"), ok([])]);
    await client.invoke(request({ idempotencyKey: "01JOBX:7" }));
    expect(sent.map((s) => s.headers["x-idempotency-key"])).toEqual(["01JOBX:7", "01JOBX:7"]);
  });

  it("url-encodes the slugs", async () => {
    const { client, sent } = setup([ok([])]);
    await client.invoke(request({ integrationSlug: "microsoft-graph", actionSlug: "list users" }));
    expect(sent[0]?.url).toBe("http://gateway.test/api/v1/actions/microsoft-graph/list%20users");
  });

  it("returns meta.pagination as the gateway sent it", async () => {
    const { client } = setup([ok([1], { pagination: { continuationToken: "abc", hasMore: true } })]);
    const response = await client.invoke(request());
    expect(response.meta.pagination).toEqual({ continuationToken: "abc", hasMore: true });
  });

  it("after a refused key, re-reads the tenant's key once and retries at once with a key saved since", async () => {
    const keys = [
      { apiKey: "old", version: "v1" },
      { apiKey: "new", version: "v2" },
    ];
    const asked: (boolean | undefined)[] = [];
    const { client, sent, sleeps } = setup([fail(401, "INVALID_API_KEY"), ok([])], {
      apiKey: async (_tenantId, options) => {
        asked.push(options?.fresh);
        return keys.shift() ?? { apiKey: "none", version: "v0" };
      },
    });
    await client.invoke(request());
    expect(sent.map((s) => s.headers.authorization)).toEqual(["Bearer old", "Bearer new"]);
    expect(asked).toEqual([undefined, true]);
    expect(sleeps).toEqual([]);
  });

  it("throws a refused key as gateway_key with the refused key's version when no other key is stored", async () => {
    const { client, sent } = setup([fail(401, "INVALID_API_KEY"), ok([])]);
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("gateway_key");
    expect(error.code).toBe("INVALID_API_KEY");
    expect(error.keyVersion).toBe("v1");
    expect(sent).toHaveLength(1);
  });

  it("sends each tenant's own key", async () => {
    const { client, sent } = setup([ok([]), ok([])]);
    await client.invoke(request({ tenantId: "acme" }));
    await client.invoke(request({ tenantId: "globex" }));
    expect(sent.map((s) => s.headers.authorization)).toEqual(["Bearer tok-acme", "Bearer tok-globex"]);
  });
});

describe("gateway client error classification", () => {
  it.each([
    [500, "INTERNAL_ERROR", "retryable"],
    [503, "CIRCUIT_OPEN", "retryable"],
    [504, "TIMEOUT", "retryable"],
    [502, "EXTERNAL_API_ERROR", "retryable"],
    [502, "RESPONSE_VALIDATION_ERROR", "retryable"],
    [429, "RATE_LIMITED", "rate_limited"],
    [401, "INVALID_API_KEY", "gateway_key"],
    [401, "MISSING_API_KEY", "gateway_key"],
    [401, "CREDENTIALS_MISSING", "credentials"],
    [401, "CREDENTIALS_EXPIRED", "credentials"],
    [403, "INTEGRATION_DISABLED", "credentials"],
    [404, "INTEGRATION_NOT_FOUND", "configuration"],
    [404, "ACTION_NOT_FOUND", "configuration"],
    [400, "CONFIGURATION_ERROR", "configuration"],
    [400, "VALIDATION_ERROR", "configuration"],
  ] as const)("classifies HTTP %i %s as %s", async (status, code, kind) => {
    const { client } = setup([fail(status, code)], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe(kind);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.requestId).toBe("req-err");
  });

  it("turns a network failure into a retryable NETWORK_ERROR", async () => {
    const { client } = setup([new TypeError("fetch failed")], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("NETWORK_ERROR");
  });

  it("turns truncated JSON in a 200 into a retryable RESPONSE_VALIDATION_ERROR", async () => {
    const body = JSON.stringify({ success: true, data: { members: [{ id: "U1" }] } });
    const { client } = setup([new Response(body.slice(0, body.length / 2), { status: 200 })], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("RESPONSE_VALIDATION_ERROR");
  });

  it.each([
    ["a bare upstream body", { members: [] }],
    ["success without data", { success: true }],
    ["a JSON array", [1, 2]],
    ["a JSON string", "ok"],
    ["success as a string", { success: "true", data: {} }],
  ])("turns %s in a 200 into a retryable RESPONSE_VALIDATION_ERROR", async (_label, body) => {
    const { client } = setup([json(200, body)], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("RESPONSE_VALIDATION_ERROR");
  });

  it("accepts null data inside a valid envelope", async () => {
    const { client } = setup([json(200, { success: true, data: null })]);
    const response = await client.invoke(request());
    expect(response.data).toBeNull();
    expect(response.meta).toEqual({});
  });

  it("classifies an HTML error page by its status", async () => {
    const { client } = setup([new Response("<html>Bad gateway</html>", { status: 502 })], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("HTTP_502");
  });

  it("classifies a failure envelope sent with a 200 by its code", async () => {
    const { client } = setup([fail(200, "CREDENTIALS_EXPIRED")], { maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("credentials");
  });

  it("does not follow redirects: a 3xx is transient, never a configuration error", async () => {
    const { client } = setup([new Response("", { status: 301, headers: { location: "https://elsewhere" } })], {
      maxAttempts: 1,
    });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("HTTP_301");
  });

  it("calls nothing for a tenant without a usable key: the provider's gateway_key error is thrown as it is", async () => {
    const { client, sent } = setup([ok([])], {
      apiKey: async () => {
        throw new GatewayError("gateway_key", "GATEWAY_KEY_MISSING", "no key");
      },
    });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("gateway_key");
    expect(error.code).toBe("GATEWAY_KEY_MISSING");
    expect(sent).toHaveLength(0);
  });

  it("lets a failure to read the key (storage down) through untouched, for the caller to retry", async () => {
    const { client, sent } = setup([ok([])], {
      apiKey: async () => {
        throw new Error("dynamodb down");
      },
    });
    await expect(client.invoke(request())).rejects.toThrow("dynamodb down");
    expect(sent).toHaveLength(0);
  });
});

describe("gateway client rate limits", () => {
  it("waits retryAfterMs from suggestedResolution, then retries", async () => {
    const { client, sleeps, sent } = setup([
      fail(429, "RATE_LIMITED", { suggestedResolution: { action: "RETRY_AFTER_DELAY", retryAfterMs: 2500 } }),
      ok(["x"]),
    ]);
    const response = await client.invoke(request());
    expect(response.data).toEqual(["x"]);
    expect(sleeps).toEqual([2500]);
    expect(sent).toHaveLength(2);
  });

  it("waits the Retry-After header when the body gives no retryAfterMs", async () => {
    const { client, sleeps } = setup([fail(429, "RATE_LIMITED", {}, { "retry-after": "3" }), ok([])]);
    await client.invoke(request());
    expect(sleeps).toEqual([3000]);
  });

  it("throws the rate limit at once when the wait would pass the deadline", async () => {
    const { client, sleeps, sent } = setup([
      fail(429, "RATE_LIMITED", { suggestedResolution: { retryAfterMs: 30_000 } }),
      ok([]),
    ]);
    const error = await rejection(client.invoke(request({ deadline: 1_000_000 + 10_000 })));
    expect(error.kind).toBe("rate_limited");
    expect(error.retryAfterMs).toBe(30_000);
    expect(sleeps).toEqual([]);
    expect(sent).toHaveLength(1);
  });
});

describe("gateway client backoff", () => {
  it("retries retryable errors with exponential backoff and full jitter", async () => {
    const randoms = [0.5, 0.25, 1];
    const { client, sleeps } = setup(
      [fail(500, "INTERNAL_ERROR"), fail(503, "CIRCUIT_OPEN"), fail(504, "TIMEOUT"), ok(["done"])],
      { random: () => randoms.shift() ?? 0, baseBackoffMs: 100, maxBackoffMs: 10_000, maxAttempts: 4 },
    );
    const response = await client.invoke(request());
    expect(response.data).toEqual(["done"]);
    // ceilings 100, 200, 400 scaled by the random draw
    expect(sleeps).toEqual([50, 50, 400]);
  });

  it("caps each backoff ceiling at maxBackoffMs", async () => {
    const { client, sleeps } = setup(
      [fail(500, "INTERNAL_ERROR"), fail(500, "INTERNAL_ERROR"), fail(500, "INTERNAL_ERROR"), ok([])],
      { random: () => 0.999, baseBackoffMs: 1000, maxBackoffMs: 1500 },
    );
    await client.invoke(request());
    expect(sleeps).toEqual([999, 1498, 1498]);
  });

  it("retries a 401 without Waygate's key codes (service_auth) with backoff", async () => {
    const { client, sleeps } = setup([fail(401, "TOKEN_REVOKED"), ok([])], { baseBackoffMs: 100 });
    await client.invoke(request());
    expect(sleeps).toEqual([50]);
  });

  it("throws the last error after maxAttempts", async () => {
    const { client, sent } = setup(
      [fail(500, "INTERNAL_ERROR"), fail(502, "EXTERNAL_API_ERROR"), fail(503, "CIRCUIT_OPEN")],
      { maxAttempts: 3 },
    );
    const error = await rejection(client.invoke(request()));
    expect(error.code).toBe("CIRCUIT_OPEN");
    expect(sent).toHaveLength(3);
  });

  it("never sleeps past the deadline: it throws instead", async () => {
    const { client, sleeps, now } = setup(
      [fail(500, "INTERNAL_ERROR"), fail(500, "INTERNAL_ERROR"), fail(500, "INTERNAL_ERROR"), ok([])],
      { random: () => 1, baseBackoffMs: 1000, maxAttempts: 10 },
    );
    const deadline = 1_000_000 + 2_500;
    const error = await rejection(client.invoke(request({ deadline })));
    expect(error.code).toBe("INTERNAL_ERROR");
    // 1000 fits (now+1000 < deadline), then 2000 would end at 3000 > 2500
    expect(sleeps).toEqual([1000]);
    expect(now()).toBeLessThan(deadline);
  });

  it.each([
    ["credentials", 401, "CREDENTIALS_EXPIRED"],
    ["configuration", 404, "ACTION_NOT_FOUND"],
  ] as const)("never retries %s errors", async (_kind, status, code) => {
    const { client, sent, sleeps } = setup([fail(status, code), ok([])]);
    await rejection(client.invoke(request()));
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("does not call the gateway once the deadline has passed", async () => {
    const { client, sent } = setup([ok([])]);
    const error = await rejection(client.invoke(request({ deadline: 1_000_000 })));
    expect(error.code).toBe("TIMEOUT");
    expect(sent).toHaveLength(0);
  });
});

describe("gateway client timeout", () => {
  it("aborts a request that outlives requestTimeoutMs and reports a retryable TIMEOUT", async () => {
    const { client, sent } = setup(["hang"], { requestTimeoutMs: 20, maxAttempts: 1 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("retryable");
    expect(error.code).toBe("TIMEOUT");
    expect(sent).toHaveLength(1);
  });

  it("retries after a timeout and returns the next answer", async () => {
    const { client, sent } = setup(["hang", ok(["late"])], { requestTimeoutMs: 20, maxAttempts: 2 });
    const response = await client.invoke(request());
    expect(response.data).toEqual(["late"]);
    expect(sent).toHaveLength(2);
  });
});

describe("gateway response size cap", () => {
  /** A streamed 200 of `chunks` × `chunkBytes`, counting how many chunks the client pulled. */
  function streamed(chunks: number, chunkBytes: number) {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === 0) controller.enqueue(new TextEncoder().encode('{"success":true,"data":"'));
        if (pulled >= chunks) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
          return;
        }
        pulled++;
        controller.enqueue(new Uint8Array(chunkBytes).fill(97));
      },
    });
    return { response: new Response(body, { status: 200 }), pulled: () => pulled };
  }

  it("stops reading a streamed body past maxResponseBytes and fails with RESPONSE_TOO_LARGE (configuration)", async () => {
    const big = streamed(1_000, 64 * 1024);
    const { client } = setup([big.response], { maxResponseBytes: 256 * 1024, maxAttempts: 3 });
    const error = await rejection(client.invoke(request()));
    expect(error.kind).toBe("configuration");
    expect(error.code).toBe("RESPONSE_TOO_LARGE");
    // Bounded memory: it read about the cap, not the 64 MB on offer.
    expect(big.pulled()).toBeLessThan(10);
  });

  it("refuses a declared Content-Length over the cap without reading the body", async () => {
    const response = new Response("x".repeat(2048), { status: 200, headers: { "content-length": "999999999" } });
    const { client } = setup([response], { maxResponseBytes: 1024, maxAttempts: 1 });
    expect((await rejection(client.invoke(request()))).code).toBe("RESPONSE_TOO_LARGE");
  });

  it("reads a body under the cap whole", async () => {
    const small = streamed(3, 1024);
    const { client } = setup([small.response], { maxResponseBytes: 1024 * 1024 });
    const response = await client.invoke(request());
    expect(response.data).toBe("a".repeat(3 * 1024));
  });
});
