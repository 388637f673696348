/**
 * Typed errors thrown by domain and storage code. One HTTP middleware maps them to the error envelope;
 * the sync worker maps them to job outcomes. Nothing outside this module invents error codes.
 */

export type SuggestedAction =
  | "RETRY_WITH_MODIFIED_INPUT"
  | "RETRY_AFTER_DELAY"
  | "CHECK_INTEGRATION_CONFIG"
  | "CHECK_API_KEY"
  | "CONTACT_SUPPORT"
  | "NONE";

import type { ClaimRefusal } from "./entities.js";

export interface ErrorDetails {
  [key: string]: unknown;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  readonly details?: ErrorDetails;

  constructor(message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    if (details !== undefined) this.details = details;
  }
}

/** Input that fails validation; `details.issues` names each field. */
export class ValidationError extends AppError {
  readonly code: string;
  readonly status = 400;
  constructor(
    message: string,
    details?: ErrorDetails,
    code: "VALIDATION_ERROR" | "INVALID_REQUEST" | "CURSOR_EXPIRED" = "VALIDATION_ERROR",
  ) {
    super(message, details);
    this.code = code;
  }
}

export class UnauthorizedError extends AppError {
  readonly code = "INVALID_API_KEY";
  readonly status = 401;
}

export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
  readonly status = 403;
}

export class NotFoundError extends AppError {
  readonly code: string;
  readonly status = 404;
  constructor(message: string, details?: ErrorDetails, code: "NOT_FOUND" | "INTEGRATION_NOT_FOUND" = "NOT_FOUND") {
    super(message, details);
    this.code = code;
  }
}

/** The path exists but not with this HTTP method. */
export class MethodNotAllowedError extends AppError {
  readonly code = "METHOD_NOT_ALLOWED";
  readonly status = 405;
}

/** A conditional write lost: the row is not in the state the caller expected. */
export class ConflictError extends AppError {
  readonly code = "CONFLICT";
  readonly status = 409;
}

/** A partition claim lost its conditional write; `refusal` is the repository's diagnosis of why. */
export class ClaimRefusedError extends ConflictError {
  constructor(
    readonly refusal: ClaimRefusal,
    details: ErrorDetails,
  ) {
    super(`Partition is not claimable (${refusal.reason})`, details);
  }
}

export class PayloadTooLargeError extends AppError {
  readonly code = "PAYLOAD_TOO_LARGE";
  readonly status = 413;
}

export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";
  readonly status = 429;
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details?: ErrorDetails) {
    super(message, details);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A tenant quota (DESIGN.md "quotas") would be exceeded; `details.quota` names it. Not time-based: no Retry-After. */
export class QuotaExceededError extends AppError {
  readonly code = "QUOTA_EXCEEDED";
  readonly status = 429;
  constructor(quota: string, limit: number, requested: number, message: string) {
    super(message, { quota, limit, requested });
  }
}

/** The change feed no longer holds what a cursor or `since` points at (older than CHANGE_RETENTION_DAYS). */
export class GoneError extends AppError {
  readonly code = "CURSOR_EXPIRED";
  readonly status = 410;
}

/** The Waygate API key offered for a tenant was refused by the gateway (it is never echoed). */
export class InvalidGatewayKeyError extends AppError {
  readonly code = "INVALID_GATEWAY_KEY";
  readonly status = 400;
}

/** The gateway could not be reached to verify something; nothing was stored. */
export class GatewayUnavailableError extends AppError {
  readonly code = "GATEWAY_UNAVAILABLE";
  readonly status = 503;
}

/** A fault of ours or of a dependency; the only error that becomes a 500. */
export class InternalError extends AppError {
  readonly code = "INTERNAL_ERROR";
  readonly status = 500;
}

/**
 * Codes a job (or a partition's `lastError`) fails with when the sync engine itself decides; the gateway's codes
 * (DESIGN.md "Talking to the gateway") pass through as they come.
 */
export const JOB_ERROR = {
  /** Superseded: the job's worker died and its lease expired. */
  leaseExpired: "LEASE_EXPIRED",
  /** Superseded: the job's message was not picked up within the requeue window. */
  notPickedUp: "NOT_PICKED_UP",
  /** The partition moved on to another job before this one ran. */
  superseded: "SUPERSEDED",
  partitionPaused: "PARTITION_PAUSED",
  partitionNotFound: "PARTITION_NOT_FOUND",
  sourceNotFound: "SOURCE_NOT_FOUND",
  connectionRevoked: "CONNECTION_REVOKED",
  connectionPaused: "CONNECTION_PAUSED",
  tooManyInvocations: "TOO_MANY_INVOCATIONS",
  /** The partition was paused (credentials, revoked, config) while the job was pending or running. */
  cancelled: "CANCELLED",
} as const;
export type JobErrorCode = (typeof JOB_ERROR)[keyof typeof JOB_ERROR];

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
