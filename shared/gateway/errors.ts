/**
 * Gateway errors and their classification (DESIGN.md, "Talking to the gateway"). The kind, not the code, decides what
 * a sync does: retry inside the budget, wait for a rate limit, pause the partition, or stop until the source changes.
 */

/**
 * `gateway_key`: the tenant's own Waygate API key is missing, refused or revoked (INVALID_API_KEY / MISSING_API_KEY):
 * every partition of that tenant pauses until new credentials are saved. Never retried.
 */
export type GatewayErrorKind =
  | "retryable"
  | "rate_limited"
  | "credentials"
  | "service_auth"
  | "configuration"
  | "gateway_key";

export interface GatewayErrorOptions {
  status?: number;
  retryAfterMs?: number;
  requestId?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
  /** For `gateway_key` errors: the version of the stored key that was refused (undefined: none stored). */
  keyVersion?: string;
}

/** A failed gateway call, classified. `code` is Waygate's error code, or ours for transport failures. */
export class GatewayError extends Error {
  readonly kind: GatewayErrorKind;
  readonly code: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly details?: Record<string, unknown>;
  readonly keyVersion?: string;

  constructor(kind: GatewayErrorKind, code: string, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.requestId !== undefined) this.requestId = options.requestId;
    if (options.details !== undefined) this.details = options.details;
    if (options.keyVersion !== undefined) this.keyVersion = options.keyVersion;
  }

  /** Whether the client may try the same call again within its budget. */
  get retryable(): boolean {
    return this.kind === "retryable" || this.kind === "rate_limited" || this.kind === "service_auth";
  }
}

/** The pagination of a source does not terminate: a repeated cursor, or more pages than `maxPages`. */
export class PaginationLoopError extends GatewayError {
  constructor(code: "PAGINATION_LOOP" | "PAGINATION_LIMIT", message: string, details?: Record<string, unknown>) {
    super("configuration", code, message, details === undefined ? {} : { details });
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** Waygate's answers when the tenant's API key itself is refused (`withApiAuth`). */
export const GATEWAY_KEY_CODES: ReadonlySet<string> = new Set(["INVALID_API_KEY", "MISSING_API_KEY"]);
const CREDENTIALS_CODES = new Set(["CREDENTIALS_MISSING", "CREDENTIALS_EXPIRED", "INTEGRATION_DISABLED"]);
const CONFIGURATION_CODES = new Set([
  "INTEGRATION_NOT_FOUND",
  "ACTION_NOT_FOUND",
  "CONFIGURATION_ERROR",
  "VALIDATION_ERROR",
]);

/** What the gateway said, as parsed from its error envelope (any field may be missing). */
export interface GatewayErrorBody {
  code?: string;
  message?: string;
  requestId?: string;
  details?: Record<string, unknown>;
  retryAfterMs?: number;
}

/**
 * Classifies a non-success gateway response per the DESIGN.md table. Only the table's codes change a partition's state
 * (credentials, configuration); a 429 or RATE_LIMITED waits; anything else (an unknown code, a status outside the
 * table, a 3xx, a body that is not Waygate's envelope, such as a WAF's or load balancer's 403/404 page) is transient
 * and retried with backoff, so no proxy in front of the gateway can pause a partition for good.
 */
export function classifyGatewayError(
  status: number,
  body: GatewayErrorBody,
  retryAfterHeader?: string | null,
  now: number = Date.now(),
): GatewayError {
  const code = body.code ?? `HTTP_${status}`;
  const message = body.message ?? `gateway answered HTTP ${status}`;
  const base: GatewayErrorOptions = { status };
  if (body.requestId !== undefined) base.requestId = body.requestId;
  if (body.details !== undefined) base.details = body.details;

  if (code === "RATE_LIMITED" || status === 429) {
    const retryAfterMs = body.retryAfterMs ?? parseRetryAfter(retryAfterHeader, now);
    return new GatewayError("rate_limited", code, message, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (CREDENTIALS_CODES.has(code)) return new GatewayError("credentials", code, message, base);
  if (GATEWAY_KEY_CODES.has(code)) return new GatewayError("gateway_key", code, message, base);
  if (CONFIGURATION_CODES.has(code)) return new GatewayError("configuration", code, message, base);
  return new GatewayError("retryable", code, message, base);
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `now`; undefined when absent/invalid. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // Only an HTTP date (it has a weekday and month names): Date.parse reads "-3" as a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
