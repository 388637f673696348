/**
 * A sample Waygate gateway over HTTP on 127.0.0.1 that behaves like Waygate where this service depends on it: a
 * tenant per API key (`withApiAuth`: MISSING_API_KEY / INVALID_API_KEY otherwise), the invoke contract of DESIGN.md
 * ("Talking to the gateway") in front of the sample actions, and the three discovery listings with their envelopes
 * and cursors (catalog.ts). Scripted failures for deterministic tests, seeded random faults for the reliability
 * suite. Used by the integration tests, the local stack, e2e tests and benchmarks.
 *
 * One file because it is one server: the request router, the tenant-by-key check and the envelopes are what every
 * route shares; the data (datasets.ts, catalog.ts), the actions (actions.ts) and the faults live beside it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ACTIONS, ActionError, type ActionResult } from "./actions.js";
import { defaultCatalog, listingPage, type SampleCatalog } from "./catalog.js";
import { defaultDatasets, type SampleDatasets } from "./datasets.js";
import {
  DEFAULT_FAULT_TIMEOUT_MS,
  DEFAULT_RETRY_AFTER_MS,
  FaultInjector,
  type FaultOptions,
  faultsFromEnv,
} from "./faults.js";

/** One tenant of the sample gateway: its key, its data and what discovery lists for it. */
export interface SampleTenant {
  tenantId: string;
  apiKey: string;
  /** The datasets its actions answer from (by default the gateway's shared `data`). */
  data: SampleDatasets;
  /** Mutable: tests add, change and remove integrations, actions and connections between discovery runs. */
  catalog: SampleCatalog;
}

export interface SampleGatewayOptions {
  /** 0 (default) = a random free port; the host is always 127.0.0.1. */
  port?: number;
  /**
   * Accept any key `sampleGatewayKey(tenantId)` (`wg_sample_{tenantId}`) as that tenant, sharing the default datasets
   * (default true): tests of many tenants need no registration. Tenants added with `addTenant` have keys of their own.
   */
  acceptSampleKeys?: boolean;
  datasets?: Partial<SampleDatasets>;
  /** Largest page of the discovery listings (default 100, Waygate's maximum); tests set 1 to page through. */
  listingPageSize?: number;
  /** Random faults; when absent, read from SAMPLE_GATEWAY_FAULT_RATE / _SEED / SAMPLE_GATEWAY_FAULTS. */
  faults?: FaultOptions;
  /** Delay before every answer, to mimic a real upstream. */
  latencyMs?: number;
}

/** One scripted answer: an error envelope with `code`, or `body` verbatim (HTML, truncated JSON...). */
export interface ScriptedFailure {
  status: number;
  code: string;
  message?: string;
  retryAfterMs?: number;
  /** Sent as the `Retry-After` header, verbatim. */
  retryAfterHeader?: string;
  body?: string;
}

export interface RecordedCall {
  integrationSlug: string;
  actionSlug: string;
  /** The tenant the key resolved to (undefined: the key was refused). */
  tenantId?: string;
  /** The Bearer key the call carried. */
  apiKey?: string;
  connectionId?: string;
  idempotencyKey?: string;
  input: Record<string, unknown>;
  /** The HTTP status answered (504 for an injected timeout, 200 for truncated JSON). */
  status: number;
}

/** One GET of a discovery listing. */
export interface RecordedListing {
  path: string;
  query: Record<string, string>;
  tenantId?: string;
  apiKey?: string;
  status: number;
}

export interface SampleGateway {
  url: string;
  port: number;
  /** Mutable: tests rename or remove users, add channels... between syncs. Shared by the sample-key tenants. */
  data: SampleDatasets;
  /** Every action call, in arrival order. */
  calls: RecordedCall[];
  /** Every listing call, in arrival order. */
  listings: RecordedListing[];
  setFaults(faults: FaultOptions | undefined): void;
  /** The next action calls answer these, in order, before anything else is checked. */
  failNext(...failures: ScriptedFailure[]): void;
  /** The next listing calls whose path contains `pathPart` (any when omitted) answer `failure`. */
  failNextListing(failure: ScriptedFailure, pathPart?: string): void;
  /** A tenant with a key and (by default) data of its own. */
  addTenant(input: { tenantId: string; apiKey: string; datasets?: Partial<SampleDatasets> }): SampleTenant;
  /** The tenant a key resolves to (sample keys are created on first use); undefined for unknown or revoked keys. */
  tenantByKey(apiKey: string): SampleTenant | undefined;
  /** From now on the key gets 401 INVALID_API_KEY. */
  revokeKey(apiKey: string): void;
  stop(): Promise<void>;
}

const SAMPLE_KEY_PREFIX = "wg_sample_";

/** The key the sample gateway accepts as `tenantId` (with `acceptSampleKeys`). A local development key only. */
export function sampleGatewayKey(tenantId: string): string {
  return `${SAMPLE_KEY_PREFIX}${tenantId}`;
}

/** The local demo tenant's Waygate key on the sample gateway. */
export const SAMPLE_DEMO_GATEWAY_KEY = sampleGatewayKey("demo");
const LISTING_PATH = /^\/api\/v1\/integrations(?:\/([^/]+)\/(actions|connections))?\/?$/;
const MAX_BODY_BYTES = 1024 * 1024;
const ACTION_PATH = /^\/api\/v1\/actions\/([^/]+)\/([^/]+)\/?$/;

const SUGGESTED: Record<string, { action: string; description: string; retryable: boolean }> = {
  RATE_LIMITED: { action: "RETRY_AFTER_DELAY", description: "Wait, then retry.", retryable: true },
  INTERNAL_ERROR: { action: "RETRY_AFTER_DELAY", description: "Retry shortly.", retryable: true },
  CIRCUIT_OPEN: { action: "RETRY_AFTER_DELAY", description: "The upstream is failing; retry later.", retryable: true },
  TIMEOUT: { action: "RETRY_AFTER_DELAY", description: "The upstream timed out; retry.", retryable: true },
  INVALID_API_KEY: { action: "CHECK_API_KEY", description: "Check the gateway API key.", retryable: false },
  MISSING_API_KEY: { action: "CHECK_API_KEY", description: "Send an API key.", retryable: false },
  CREDENTIALS_EXPIRED: {
    action: "REAUTHENTICATE",
    description: "Reconnect the integration for this connection.",
    retryable: false,
  },
  CREDENTIALS_MISSING: {
    action: "REAUTHENTICATE",
    description: "Connect the integration for this connection.",
    retryable: false,
  },
  INTEGRATION_DISABLED: {
    action: "CHECK_INTEGRATION_CONFIG",
    description: "Enable the integration.",
    retryable: false,
  },
};
const DEFAULT_SUGGESTED = {
  action: "RETRY_WITH_MODIFIED_INPUT",
  description: "Fix the request and retry.",
  retryable: false,
};

/** Connections that answer as if their credentials were gone. */
const CONNECTION_FAILURES: Record<string, { status: number; code: string; message: string }> = {
  expired: { status: 401, code: "CREDENTIALS_EXPIRED", message: "The connection's credentials have expired" },
  missing: { status: 401, code: "CREDENTIALS_MISSING", message: "The connection has no credentials" },
  disabled: { status: 403, code: "INTEGRATION_DISABLED", message: "The integration is disabled for this connection" },
};

/** Starts the sample gateway on 127.0.0.1 and resolves once it listens. */
export async function startSampleGateway(options: SampleGatewayOptions = {}): Promise<SampleGateway> {
  const acceptSampleKeys = options.acceptSampleKeys ?? true;
  const listingPageSize = options.listingPageSize ?? 100;
  const tenants = new Map<string, SampleTenant>();
  const revoked = new Set<string>();
  const listingFailures: { failure: ScriptedFailure; pathPart?: string }[] = [];
  const latencyMs = options.latencyMs ?? 0;
  const initialFaults = options.faults ?? faultsFromEnv();
  let injector = initialFaults ? new FaultInjector(initialFaults) : undefined;
  const scripted: ScriptedFailure[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let requestCounter = 0;

  const wait = (ms: number, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      if (ms <= 0) return resolve();
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
      res.once("close", () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve();
      });
    });

  const server = createServer((req, res) => {
    const requestId = `req_sample_${++requestCounter}`;
    handle(req, res, requestId).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      send(res, 500, errorBody("INTERNAL_ERROR", `sample gateway fault: ${message}`, requestId), requestId);
    });
  });
  // Keep-alive sockets from fetch must not hold stop() open.
  server.keepAliveTimeout = 1000;

  const gateway: SampleGateway = {
    url: "",
    port: 0,
    data: { ...defaultDatasets(), ...options.datasets },
    calls: [],
    listings: [],
    setFaults(faults) {
      injector = faults ? new FaultInjector(faults) : undefined;
    },
    failNext(...failures) {
      scripted.push(...failures);
    },
    failNextListing(failure, pathPart) {
      listingFailures.push(pathPart === undefined ? { failure } : { failure, pathPart });
    },
    addTenant(input) {
      const own = input.datasets ? { ...defaultDatasets(), ...input.datasets } : undefined;
      const tenant = own
        ? { tenantId: input.tenantId, apiKey: input.apiKey, data: own, catalog: defaultCatalog(input.tenantId) }
        : sharedTenant(input.tenantId, input.apiKey);
      tenants.set(input.apiKey, tenant);
      return tenant;
    },
    tenantByKey(apiKey) {
      if (revoked.has(apiKey)) return undefined;
      const known = tenants.get(apiKey);
      if (known) return known;
      const tenantId = apiKey.startsWith(SAMPLE_KEY_PREFIX) ? apiKey.slice(SAMPLE_KEY_PREFIX.length) : "";
      if (!acceptSampleKeys || !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(tenantId)) return undefined;
      const tenant = sharedTenant(tenantId, apiKey);
      tenants.set(apiKey, tenant);
      return tenant;
    },
    revokeKey(apiKey) {
      revoked.add(apiKey);
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** A tenant answering from the gateway's shared `data`, whatever object tests put there later. */
  function sharedTenant(tenantId: string, apiKey: string): SampleTenant {
    const catalog = defaultCatalog(tenantId);
    return {
      tenantId,
      apiKey,
      catalog,
      get data() {
        return gateway.data;
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (req.method === "GET" && (path === "/health" || path === "/api/v1/health")) {
      return send(res, 200, JSON.stringify({ status: "ok" }), requestId);
    }
    const listing = LISTING_PATH.exec(path);
    if (listing && req.method === "GET") return handleListing(req, res, requestId, path, listing);
    const match = ACTION_PATH.exec(path);
    if (!match) {
      req.resume();
      return send(res, 404, errorBody("NOT_FOUND", `no route ${req.method} ${path}`, requestId), requestId);
    }
    if (req.method !== "POST") {
      req.resume();
      return send(res, 405, errorBody("METHOD_NOT_ALLOWED", "actions are invoked with POST", requestId), requestId);
    }
    const integrationSlug = decodeURIComponent(match[1] as string);
    const actionSlug = decodeURIComponent(match[2] as string);
    const body = await readBody(req);
    const apiKey = bearer(req);
    const tenant = apiKey === undefined ? undefined : gateway.tenantByKey(apiKey);
    const tenantId = tenant?.tenantId;
    const connectionId = header(req, "x-waygate-connection-id");
    const idempotencyKey = header(req, "x-idempotency-key");
    const input = body.kind === "ok" ? body.input : {};
    const call: RecordedCall = { integrationSlug, actionSlug, input, status: 0 };
    if (tenantId !== undefined) call.tenantId = tenantId;
    if (apiKey !== undefined) call.apiKey = apiKey;
    if (connectionId !== undefined) call.connectionId = connectionId;
    if (idempotencyKey !== undefined) call.idempotencyKey = idempotencyKey;
    gateway.calls.push(call);

    const answer = async (status: number, text: string, headers: Record<string, string> = {}) => {
      call.status = status;
      await wait(latencyMs, res);
      send(res, status, text, requestId, headers);
    };
    const fail = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
      answer(status, errorBody(code, message, requestId, extra));

    const script = scripted.shift();
    if (script) {
      const headers: Record<string, string> = {};
      if (script.retryAfterHeader !== undefined) headers["retry-after"] = script.retryAfterHeader;
      const text =
        script.body ??
        errorBody(script.code, script.message ?? `scripted ${script.code}`, requestId, {
          ...(script.retryAfterMs === undefined ? {} : { retryAfterMs: script.retryAfterMs }),
        });
      return answer(script.status, text, headers);
    }

    if (apiKey === undefined) return fail(401, "MISSING_API_KEY", "An API key is required");
    if (!tenant) return fail(401, "INVALID_API_KEY", "Invalid API key");
    if (body.kind === "too_large") return fail(413, "PAYLOAD_TOO_LARGE", `request body over ${MAX_BODY_BYTES} bytes`);
    if (body.kind === "invalid") return fail(400, "VALIDATION_ERROR", body.reason);
    const actions = ACTIONS[integrationSlug];
    const listed = tenant.catalog.integrations.find((integration) => integration.slug === integrationSlug);
    if (!actions || listed?.status === "disabled") {
      return fail(404, "INTEGRATION_NOT_FOUND", `integration '${integrationSlug}' not found`);
    }
    const action = actions[actionSlug];
    if (!action) return fail(404, "ACTION_NOT_FOUND", `action '${integrationSlug}/${actionSlug}' not found`);
    const connectionFailure = connectionId === undefined ? undefined : CONNECTION_FAILURES[connectionId];
    if (connectionFailure) return fail(connectionFailure.status, connectionFailure.code, connectionFailure.message);
    // A listed connection answers as its status says; other IDs get the shared data (tests enroll UUIDs of their own).
    if (connectionId !== undefined && UUID.test(connectionId) && listed) {
      const connection = listed.connections.find((c) => c.id === connectionId);
      if (connection?.status === "disabled") {
        return fail(403, "INTEGRATION_DISABLED", "The connection is disabled");
      }
      if (connection?.status === "error") {
        return fail(401, "CREDENTIALS_EXPIRED", "The connection's credentials have expired");
      }
    }

    const fault = injector?.pick(
      JSON.stringify([tenantId, connectionId ?? "default", integrationSlug, actionSlug, stable(input)]),
    );
    const faults = injector?.options;
    if (fault === "500") return fail(500, "INTERNAL_ERROR", "injected fault: internal error");
    if (fault === "503") return fail(503, "CIRCUIT_OPEN", "injected fault: circuit open");
    if (fault === "429") {
      const retryAfterMs = faults?.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
      call.status = 429;
      await wait(latencyMs, res);
      return send(
        res,
        429,
        errorBody("RATE_LIMITED", "injected fault: rate limited", requestId, { retryAfterMs }),
        requestId,
        { "retry-after": String(Math.ceil(retryAfterMs / 1000)) },
      );
    }
    if (fault === "timeout") {
      call.status = 504;
      // Hang like a stuck upstream; a client with a shorter timeout gives up first and closes the socket.
      await wait(faults?.timeoutMs ?? DEFAULT_FAULT_TIMEOUT_MS, res);
      return send(res, 504, errorBody("TIMEOUT", "injected fault: upstream timed out", requestId), requestId);
    }

    let result: ActionResult;
    try {
      result = action(tenant.data, input);
    } catch (error) {
      if (error instanceof ActionError) return fail(error.status, error.code, error.message);
      throw error;
    }
    const text = successBody(result, requestId, integrationSlug, actionSlug);
    if (fault === "truncated") return answer(200, text.slice(0, Math.floor(text.length / 2)));
    return answer(200, text);
  }

  /** Waygate's listings: `{ success, data: { <name>: [...], pagination: { cursor, hasMore, totalCount } } }`. */
  async function handleListing(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    path: string,
    match: RegExpExecArray,
  ): Promise<void> {
    req.resume();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query = Object.fromEntries(url.searchParams.entries());
    const apiKey = bearer(req);
    const tenant = apiKey === undefined ? undefined : gateway.tenantByKey(apiKey);
    const record: RecordedListing = { path, query, status: 0 };
    if (tenant) record.tenantId = tenant.tenantId;
    if (apiKey !== undefined) record.apiKey = apiKey;
    gateway.listings.push(record);
    const answer = async (status: number, text: string) => {
      record.status = status;
      await wait(latencyMs, res);
      send(res, status, text, requestId);
    };
    const scriptIndex = listingFailures.findIndex((f) => f.pathPart === undefined || path.includes(f.pathPart));
    if (scriptIndex >= 0) {
      const [{ failure }] = listingFailures.splice(scriptIndex, 1) as [{ failure: ScriptedFailure }];
      return answer(
        failure.status,
        failure.body ?? errorBody(failure.code, failure.message ?? `scripted ${failure.code}`, requestId),
      );
    }
    if (apiKey === undefined) return answer(401, errorBody("MISSING_API_KEY", "An API key is required", requestId));
    if (!tenant) return answer(401, errorBody("INVALID_API_KEY", "Invalid API key", requestId));
    const page = listingPage(tenant.catalog, match[1], match[2], query, listingPageSize);
    return answer(
      page.status,
      page.status === 200 ? JSON.stringify(page.body) : errorBody(page.code, page.message, requestId),
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  gateway.port = port;
  gateway.url = `http://127.0.0.1:${port}`;
  return gateway;
}

type Body =
  | { kind: "ok"; input: Record<string, unknown> }
  | { kind: "invalid"; reason: string }
  | { kind: "too_large" };

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  if (tooLarge) return { kind: "too_large" };
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return { kind: "ok", input: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "the request body is not valid JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { kind: "invalid", reason: "the action input must be a JSON object" };
  }
  return { kind: "ok", input: parsed as Record<string, unknown> };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bearer(req: IncomingMessage): string | undefined {
  const value = header(req, "authorization");
  const match = value === undefined ? null : /^Bearer\s+(\S+)$/i.exec(value);
  return match?.[1];
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

function send(
  res: ServerResponse,
  status: number,
  text: string,
  requestId: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "x-request-id": requestId,
    ...headers,
  });
  res.end(text);
}

function successBody(result: ActionResult, requestId: string, integration: string, action: string): string {
  const meta: Record<string, unknown> = {
    requestId,
    timestamp: new Date().toISOString(),
    execution: { integration, action, attempts: 1, cached: false },
  };
  if (result.pagination) meta.pagination = result.pagination;
  return JSON.stringify({ success: true, data: result.data, meta });
}

function errorBody(code: string, message: string, requestId: string, extra: { retryAfterMs?: number } = {}): string {
  const suggested = SUGGESTED[code] ?? DEFAULT_SUGGESTED;
  return JSON.stringify({
    success: false,
    error: {
      code,
      message,
      requestId,
      suggestedResolution: {
        ...suggested,
        ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
      },
    },
  });
}

/** Key-order-independent JSON, so the same input always identifies the same call. */
function stable(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stable((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(",")}}`;
}
