/**
 * The Waygate client: action invokes and the discovery listings, each with the tenant's own API key (Waygate takes
 * the tenant from the key alone), a per-request timeout, error classification, and retries with exponential backoff
 * and full jitter that never run past the caller's deadline.
 */
import { type Clock, systemClock } from "../domain/clock.js";
import { classifyGatewayError, GatewayError, type GatewayErrorBody, isGatewayError } from "./errors.js";

export interface InvokeRequest {
  integrationSlug: string;
  actionSlug: string;
  /** Whose key the call carries. */
  tenantId: string;
  /** The reserved connection `default` sends no connection header (integration-level data). */
  connectionId: string;
  /** `{jobId}:{page}`: a retried page is the same request to the gateway. */
  idempotencyKey: string;
  input: Record<string, unknown>;
  /** Epoch ms: requests, retries, backoff and rate-limit waits never go past it. */
  deadline: number;
}

export interface InvokeResponse {
  data: unknown;
  meta: {
    requestId?: string;
    pagination?: { continuationToken?: string | null; hasMore?: boolean } & Record<string, unknown>;
  } & Record<string, unknown>;
}

/** A GET of one of Waygate's listings (`/api/v1/integrations`, …/actions, …/connections). */
export interface ListRequest {
  tenantId: string;
  /** Under the gateway's base URL, e.g. `/api/v1/integrations`. */
  path: string;
  query: Record<string, string>;
  deadline: number;
}

export interface GatewayClient {
  invoke(request: InvokeRequest): Promise<InvokeResponse>;
}

/** The listings discovery reads. */
export interface GatewayLister {
  /** The listing's `data`. */
  list(request: ListRequest): Promise<unknown>;
}

/** A tenant's Waygate key and the version of the stored row it came from. */
export interface TenantGatewayKey {
  apiKey: string;
  version: string;
}

/**
 * Resolves a tenant's key (cached by the provider). Throws a `gateway_key` GatewayError when the tenant has none or it
 * is marked invalid. `fresh` skips the cache: after a refusal, a key saved meanwhile is used at once.
 */
export type TenantKeyProvider = (tenantId: string, options?: { fresh?: boolean }) => Promise<TenantGatewayKey>;

export interface GatewayClientOptions {
  baseUrl: string;
  apiKey: TenantKeyProvider;
  requestTimeoutMs?: number;
  /** Attempts in total, the first included. */
  maxAttempts?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  fetch?: typeof fetch;
  /** First backoff ceiling; doubled per attempt up to `maxBackoffMs` (full jitter below it). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Responses larger than this (decoded bytes) fail with RESPONSE_TOO_LARGE; default 32 MB. */
  maxResponseBytes?: number;
  /** Observability hook, called before each wait. */
  onRetry?: (error: GatewayError, attempt: number, waitMs: number) => void;
}

export const CONNECTION_DEFAULT = "default";
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_BASE_BACKOFF_MS = 500;
const DEFAULT_MAX_BACKOFF_MS = 10_000;
/** DESIGN.md: GATEWAY_MAX_RESPONSE_BYTES defaults to 32 MB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Builds a gateway client. Every call carries the tenant's key from `apiKey`. It retries retryable and service_auth errors with exponential backoff and full
 * jitter, waits `retryAfterMs` (else a backoff) for rate_limited ones, and only while `now + wait < deadline` and
 * attempts remain; otherwise it throws the last GatewayError. Credentials, configuration and gateway_key errors are
 * never retried (a refused key is tried again only when a different key has been saved since).
 */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient & GatewayLister {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const baseBackoff = options.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS;
  const maxBackoff = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  const backoff = (attempt: number) => Math.floor(random() * Math.min(maxBackoff, baseBackoff * 2 ** (attempt - 1)));

  interface Call {
    tenantId: string;
    method: "GET" | "POST";
    url: string;
    body?: string;
    headers: Record<string, string>;
    deadline: number;
  }

  async function attemptOnce(call: Call, key: TenantGatewayKey): Promise<InvokeResponse> {
    const remaining = call.deadline - clock.now();
    if (remaining <= 0) {
      throw new GatewayError("retryable", "TIMEOUT", "the time budget ended before the gateway call");
    }
    const headers: Record<string, string> = {
      accept: "application/json",
      ...call.headers,
      authorization: `Bearer ${key.apiKey}`,
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.min(timeoutMs, remaining));
    let status: number;
    let text: string;
    let responseHeaders: Headers;
    try {
      const response = await fetchFn(call.url, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        signal: controller.signal,
        redirect: "manual",
      });
      status = response.status;
      responseHeaders = response.headers;
      // Read inside the timeout: a body that stalls half-way is a timeout too.
      text = await readCapped(response, maxResponseBytes);
    } catch (cause) {
      if (isGatewayError(cause)) throw cause;
      if (controller.signal.aborted) {
        throw new GatewayError("retryable", "TIMEOUT", `no complete gateway response within ${timeoutMs} ms`, {
          cause,
        });
      }
      throw new GatewayError("retryable", "NETWORK_ERROR", `gateway unreachable: ${describeCause(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    try {
      return interpret(status, text, responseHeaders, clock.now());
    } catch (error) {
      if (isGatewayError(error) && error.kind === "gateway_key") {
        throw new GatewayError(error.kind, error.code, error.message, {
          ...(error.status === undefined ? {} : { status: error.status }),
          ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
          keyVersion: key.version,
        });
      }
      throw error;
    }
  }

  async function send(call: Call): Promise<InvokeResponse> {
    // A missing or invalid stored key is a gateway_key error from the provider: no call is made.
    let key = await options.apiKey(call.tenantId);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let error: GatewayError;
      try {
        return await attemptOnce(call, key);
      } catch (caught) {
        error = isGatewayError(caught)
          ? caught
          : new GatewayError("retryable", "CLIENT_ERROR", describeCause(caught), { cause: caught });
      }
      if (error.kind === "gateway_key" && !refreshed) {
        // The cached key may be stale: a key saved since is tried once, at once.
        refreshed = true;
        const fresh = await options.apiKey(call.tenantId, { fresh: true });
        if (fresh.version !== key.version) {
          key = fresh;
          continue;
        }
      }
      if (attempt >= maxAttempts) throw error;
      let wait: number;
      if (error.kind === "rate_limited") wait = error.retryAfterMs ?? backoff(attempt);
      else if (error.kind === "retryable" || error.kind === "service_auth") wait = backoff(attempt);
      else throw error;
      if (clock.now() + wait >= call.deadline) throw error;
      options.onRetry?.(error, attempt, wait);
      await sleep(wait);
    }
  }

  return {
    invoke(request) {
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "x-idempotency-key": request.idempotencyKey,
      };
      if (request.connectionId !== CONNECTION_DEFAULT) headers["x-waygate-connection-id"] = request.connectionId;
      const url = `${baseUrl}/api/v1/actions/${encodeURIComponent(request.integrationSlug)}/${encodeURIComponent(
        request.actionSlug,
      )}`;
      return send({
        tenantId: request.tenantId,
        method: "POST",
        url,
        body: JSON.stringify(request.input),
        headers,
        deadline: request.deadline,
      });
    },
    async list(request) {
      const query = new URLSearchParams(request.query).toString();
      const url = `${baseUrl}${request.path}${query === "" ? "" : `?${query}`}`;
      const response = await send({
        tenantId: request.tenantId,
        method: "GET",
        url,
        headers: {},
        deadline: request.deadline,
      });
      return response.data;
    },
  };
}

/**
 * The body as text, read as a stream and abandoned as soon as it passes `maxBytes`, so one huge page cannot exhaust the
 * worker's memory (and fail other tenants' messages in its batch). Too large is a configuration problem: the source's
 * page size asks for more than a page may hold.
 */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const tooLarge = (bytes: string) =>
    new GatewayError(
      "configuration",
      "RESPONSE_TOO_LARGE",
      `the gateway response is larger than ${maxBytes} bytes (${bytes}); lower the source's page size`,
      { status: response.status, details: { maxBytes } },
    );
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(`${declared} declared`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let received = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`over ${received} received`);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

export type KeyCheck = "valid" | "invalid" | "unavailable";

/**
 * Checks a key before it is stored: `GET /api/v1/integrations?limit=1`. A 401 (or Waygate's key codes) is `invalid`;
 * no answer, a timeout or a 5xx is `unavailable`. The key never appears in what this returns or throws.
 */
export async function checkGatewayKey(
  baseUrl: string,
  apiKey: string,
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<KeyCheck> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const response = await fetchFn(`${baseUrl.replace(/\/+$/, "")}/api/v1/integrations?limit=1`, {
      headers: { accept: "application/json", authorization: `Bearer ${apiKey}` },
      signal: controller.signal,
      redirect: "manual",
    });
    const text = await response.text();
    // Waygate's withApiAuth answers 401 (INVALID_API_KEY / MISSING_API_KEY); a 403 may be a WAF's page, not a verdict.
    if (response.status === 401) return "invalid";
    if (response.status >= 200 && response.status < 300) {
      try {
        const body: unknown = JSON.parse(text);
        if (isRecord(body) && body.success === true) return "valid";
      } catch {
        // not the envelope: not a Waygate answer
      }
    }
    return "unavailable";
  } catch {
    return "unavailable";
  } finally {
    clearTimeout(timer);
  }
}

/** Turns one HTTP answer into an InvokeResponse or a classified GatewayError. */
function interpret(status: number, text: string, headers: Headers, now: number): InvokeResponse {
  const headerRequestId = headers.get("x-request-id") ?? undefined;
  let body: unknown;
  let parsed = true;
  try {
    body = JSON.parse(text);
  } catch {
    parsed = false;
  }

  if (status >= 200 && status < 300) {
    if (!parsed) {
      throw new GatewayError(
        "retryable",
        "RESPONSE_VALIDATION_ERROR",
        `gateway answered ${status} with a body that is not JSON (truncated or malformed, ${text.length} chars)`,
        { status, ...(headerRequestId === undefined ? {} : { requestId: headerRequestId }) },
      );
    }
    if (isRecord(body) && body.success === true && Object.hasOwn(body, "data")) {
      const meta = isRecord(body.meta) ? { ...body.meta } : {};
      if (meta.requestId === undefined && headerRequestId !== undefined) meta.requestId = headerRequestId;
      return { data: body.data, meta: meta as InvokeResponse["meta"] };
    }
    if (!(isRecord(body) && body.success === false)) {
      throw new GatewayError(
        "retryable",
        "RESPONSE_VALIDATION_ERROR",
        `gateway answered ${status} without the { success: true, data } envelope`,
        { status, ...(headerRequestId === undefined ? {} : { requestId: headerRequestId }) },
      );
    }
  }

  const details = readErrorBody(parsed ? body : undefined);
  if (details.requestId === undefined && headerRequestId !== undefined) details.requestId = headerRequestId;
  if (status >= 200 && status < 300) {
    // `{ success: false }` with a 2xx: trust the code, fall back to a 502-like retry.
    return throwError(classifyGatewayError(details.code === undefined ? 502 : status, details, null, now));
  }
  return throwError(classifyGatewayError(status, details, headers.get("retry-after"), now));
}

function throwError(error: GatewayError): never {
  throw error;
}

function readErrorBody(body: unknown): GatewayErrorBody {
  const result: GatewayErrorBody = {};
  if (!isRecord(body) || !isRecord(body.error)) return result;
  const error = body.error;
  if (typeof error.code === "string" && error.code !== "") result.code = error.code;
  if (typeof error.message === "string") result.message = error.message;
  if (typeof error.requestId === "string") result.requestId = error.requestId;
  if (isRecord(error.details)) result.details = error.details;
  const resolution = error.suggestedResolution;
  if (isRecord(resolution) && typeof resolution.retryAfterMs === "number" && Number.isFinite(resolution.retryAfterMs)) {
    result.retryAfterMs = Math.max(0, resolution.retryAfterMs);
  }
  return result;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as Error & { cause?: unknown }).cause;
    const code = isRecord(inner) && typeof inner.code === "string" ? ` (${inner.code})` : "";
    return `${cause.message}${code}`;
  }
  return String(cause);
}
