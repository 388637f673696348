/**
 * What a failed sync does, per the DESIGN.md error table. Pure: the worker applies the decision.
 *
 * | cause                                         | decision                                                      |
 * |-----------------------------------------------|---------------------------------------------------------------|
 * | gateway retryable (5xx, timeouts, 502s)       | job failed, partition failed, retried after min(ttl, 60 s×2^n) |
 * | gateway service_auth (our own token)          | same: a service outage never pauses a tenant's partition      |
 * | gateway rate_limited beyond the time budget   | checkpoint, continuation delayed by Retry-After (≤ 900 s)     |
 * | gateway credentials (expired, missing, 403)   | job failed, partition paused "credentials"                    |
 * | gateway_key (tenant's Waygate key refused)    | job failed, partition paused "gateway_key" (the worker pauses  |
 * |                                               | the whole tenant and marks the key invalid)                   |
 * | gateway configuration (404s, 400s, loops)     | job failed, partition paused "config" until the source changes |
 * | source deleted / connection revoked           | job failed, partition paused "source_deleted" / "revoked"     |
 * | anything else (DynamoDB throttling, network)  | transient: the message is redelivered by SQS                  |
 */
import type { JobError, PauseReason } from "../domain/entities.js";
import { type JobErrorCode, ValidationError } from "../domain/errors.js";
import { GatewayError } from "../gateway/errors.js";
import { MAX_DELAY_SECONDS, RETRY_BASE_MS } from "./durations.js";

/** The partition cannot be synced as configured: its source is gone, its connection revoked, or it is unusable. */
export class SyncStoppedError extends Error {
  constructor(
    readonly reason: PauseReason,
    readonly code: JobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SyncStoppedError";
  }
}

/** The sync cannot go on this time (e.g. it needed too many invocations); retried with backoff, never paused. */
export class SyncFailedError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SyncFailedError";
  }
}

export type FailureDecision =
  | { action: "reschedule"; error: JobError; retryInMs: number }
  | { action: "pause"; reason: PauseReason; error: JobError }
  | { action: "continue_later"; delaySeconds: number; error: JobError }
  | { action: "transient" };

export interface FailureContext {
  ttlSeconds: number;
  /** Failures in a row before this one (the partition's `consecutiveFailures`). */
  consecutiveFailures: number;
  /** [0, 1): jitter source. */
  random?: () => number;
}

/** Wait after a rate limit that named no Retry-After. */
export const DEFAULT_RATE_LIMIT_DELAY_SECONDS = 60;

/** min(ttl, 60 s × 2^failures), with up to 10% jitter below the cap so failed partitions do not retry in lockstep. */
export function retryDelayMs(
  consecutiveFailures: number,
  ttlSeconds: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(0, consecutiveFailures), 30);
  const delay = Math.min(ttlSeconds * 1000, RETRY_BASE_MS * 2 ** exponent);
  return Math.round(delay * (0.9 + 0.1 * random()));
}

/** Decides what a sync failure does to the job and the partition. */
export function decideFailure(error: unknown, context: FailureContext): FailureDecision {
  const random = context.random ?? Math.random;
  const reschedule = (jobError: JobError): FailureDecision => ({
    action: "reschedule",
    error: jobError,
    retryInMs: retryDelayMs(context.consecutiveFailures, context.ttlSeconds, random),
  });

  if (error instanceof SyncStoppedError) {
    return {
      action: "pause",
      reason: error.reason,
      error: { code: error.code, message: error.message, retryable: false },
    };
  }
  if (error instanceof SyncFailedError)
    return reschedule({ code: error.code, message: error.message, retryable: true });
  if (error instanceof GatewayError) {
    const jobError = gatewayJobError(error);
    switch (error.kind) {
      case "retryable":
      case "service_auth":
        return reschedule({ ...jobError, retryable: true });
      case "rate_limited": {
        const seconds =
          error.retryAfterMs === undefined ? DEFAULT_RATE_LIMIT_DELAY_SECONDS : Math.ceil(error.retryAfterMs / 1000);
        return {
          action: "continue_later",
          delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(1, seconds)),
          error: { ...jobError, retryable: true },
        };
      }
      case "credentials":
        return { action: "pause", reason: "credentials", error: { ...jobError, retryable: false } };
      case "configuration":
        return { action: "pause", reason: "config", error: { ...jobError, retryable: false } };
      case "gateway_key":
        return { action: "pause", reason: "gateway_key", error: { ...jobError, retryable: false } };
    }
  }
  // Bad data we could not store (an item DynamoDB refuses): the same sync would fail the same way, but the upstream
  // may change, so it is retried with backoff rather than paused.
  if (error instanceof ValidationError) {
    return reschedule({ code: error.code, message: error.message, retryable: false });
  }
  // DynamoDB throttling, network errors, incomplete batch writes: SQS redelivers the message and the sync resumes.
  return { action: "transient" };
}

function gatewayJobError(error: GatewayError): JobError {
  const details: Record<string, unknown> = {};
  if (error.status !== undefined) details.status = error.status;
  if (error.requestId !== undefined) details.requestId = error.requestId;
  if (error.retryAfterMs !== undefined) details.retryAfterMs = error.retryAfterMs;
  const jobError: JobError = { code: error.code, message: error.message };
  if (Object.keys(details).length > 0) jobError.details = details;
  return jobError;
}
