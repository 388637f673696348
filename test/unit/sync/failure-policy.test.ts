import { describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "../../../shared/domain/errors.js";
import { GatewayError, PaginationLoopError } from "../../../shared/gateway/errors.js";
import { decideFailure, retryDelayMs, SyncFailedError, SyncStoppedError } from "../../../shared/sync/failure-policy.js";

const context = { ttlSeconds: 3600, consecutiveFailures: 0, random: () => 1 };

describe("decideFailure", () => {
  it("reschedules retryable gateway errors with the error on the job", () => {
    const decision = decideFailure(
      new GatewayError("retryable", "INTERNAL_ERROR", "boom", { status: 500, requestId: "r1" }),
      context,
    );
    expect(decision).toEqual({
      action: "reschedule",
      error: { code: "INTERNAL_ERROR", message: "boom", retryable: true, details: { status: 500, requestId: "r1" } },
      retryInMs: 60_000,
    });
  });

  it("reschedules a 401 that is not one of Waygate's key codes instead of pausing", () => {
    const decision = decideFailure(
      new GatewayError("service_auth", "TOKEN_REVOKED", "bad key", { status: 401 }),
      context,
    );
    expect(decision.action).toBe("reschedule");
  });

  it("pauses for gateway_key when the tenant's Waygate key is refused or missing", () => {
    for (const code of ["INVALID_API_KEY", "MISSING_API_KEY", "GATEWAY_KEY_MISSING"]) {
      expect(decideFailure(new GatewayError("gateway_key", code, "refused", { status: 401 }), context)).toMatchObject({
        action: "pause",
        reason: "gateway_key",
        error: { code, retryable: false },
      });
    }
  });

  it("pauses on credentials and configuration errors, pagination loops included", () => {
    expect(decideFailure(new GatewayError("credentials", "CREDENTIALS_EXPIRED", "gone"), context)).toMatchObject({
      action: "pause",
      reason: "credentials",
      error: { code: "CREDENTIALS_EXPIRED", retryable: false },
    });
    expect(decideFailure(new GatewayError("configuration", "ACTION_NOT_FOUND", "404"), context)).toMatchObject({
      action: "pause",
      reason: "config",
    });
    expect(decideFailure(new PaginationLoopError("PAGINATION_LOOP", "loop"), context)).toMatchObject({
      action: "pause",
      reason: "config",
      error: { code: "PAGINATION_LOOP" },
    });
  });

  it("continues later after a rate limit, waiting Retry-After rounded up and capped at 900 s", () => {
    expect(
      decideFailure(new GatewayError("rate_limited", "RATE_LIMITED", "slow", { retryAfterMs: 1500 }), context),
    ).toMatchObject({
      action: "continue_later",
      delaySeconds: 2,
    });
    expect(
      decideFailure(new GatewayError("rate_limited", "RATE_LIMITED", "slow", { retryAfterMs: 3_600_000 }), context),
    ).toMatchObject({ delaySeconds: 900 });
    expect(decideFailure(new GatewayError("rate_limited", "RATE_LIMITED", "slow"), context)).toMatchObject({
      delaySeconds: 60,
    });
  });

  it("pauses for a deleted source or a revoked connection", () => {
    expect(decideFailure(new SyncStoppedError("source_deleted", "SOURCE_NOT_FOUND", "gone"), context)).toMatchObject({
      action: "pause",
      reason: "source_deleted",
    });
  });

  it("reschedules engine failures and unstorable data, and leaves infrastructure errors to SQS redelivery", () => {
    expect(decideFailure(new SyncFailedError("TOO_MANY_INVOCATIONS", "x"), context).action).toBe("reschedule");
    expect(decideFailure(new ValidationError("item too large"), context).action).toBe("reschedule");
    const throttled = Object.assign(new Error("Rate of requests exceeds"), { name: "ThrottlingException" });
    expect(decideFailure(throttled, context)).toEqual({ action: "transient" });
    expect(decideFailure(new ConflictError("x"), context)).toEqual({ action: "transient" });
  });
});

describe("retryDelayMs", () => {
  it("doubles from 60 s per consecutive failure and caps at the TTL", () => {
    const noJitter = () => 1;
    expect(retryDelayMs(0, 86_400, noJitter)).toBe(60_000);
    expect(retryDelayMs(1, 86_400, noJitter)).toBe(120_000);
    expect(retryDelayMs(3, 86_400, noJitter)).toBe(480_000);
    expect(retryDelayMs(10, 3600, noJitter)).toBe(3_600_000);
    expect(retryDelayMs(1_000, 3600, noJitter)).toBe(3_600_000);
  });

  it("jitters at most 10% below the delay", () => {
    expect(retryDelayMs(0, 86_400, () => 0)).toBe(54_000);
  });
});
