import { describe, expect, it } from "vitest";
import {
  classifyGatewayError,
  GatewayError,
  PaginationLoopError,
  parseRetryAfter,
} from "../../../shared/gateway/errors.js";

describe("classifyGatewayError", () => {
  it.each([
    [429, "RATE_LIMITED", "rate_limited"],
    [504, "TIMEOUT", "retryable"],
    [503, "CIRCUIT_OPEN", "retryable"],
    [500, "INTERNAL_ERROR", "retryable"],
    [502, "EXTERNAL_API_ERROR", "retryable"],
    [502, "RESPONSE_VALIDATION_ERROR", "retryable"],
    [401, "CREDENTIALS_MISSING", "credentials"],
    [401, "CREDENTIALS_EXPIRED", "credentials"],
    [403, "INTEGRATION_DISABLED", "credentials"],
    [401, "INVALID_API_KEY", "gateway_key"],
    [401, "MISSING_API_KEY", "gateway_key"],
    [401, "TOKEN_REVOKED", "retryable"],
    [404, "INTEGRATION_NOT_FOUND", "configuration"],
    [404, "ACTION_NOT_FOUND", "configuration"],
    [400, "CONFIGURATION_ERROR", "configuration"],
    [400, "VALIDATION_ERROR", "configuration"],
  ] as const)("HTTP %i %s is %s", (status, code, kind) => {
    const error = classifyGatewayError(status, { code, message: "m", requestId: "req-1" });
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.kind).toBe(kind);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.requestId).toBe("req-1");
  });

  it.each([
    [401, "retryable"],
    [302, "retryable"],
    [418, "retryable"],
    [429, "rate_limited"],
    [500, "retryable"],
    [502, "retryable"],
    [408, "retryable"],
    [400, "retryable"],
    [404, "retryable"],
    [403, "retryable"],
  ] as const)("never changes a partition's state without a listed code: %i → %s", (status, kind) => {
    const error = classifyGatewayError(status, {});
    expect(error.kind).toBe(kind);
    expect(error.code).toBe(`HTTP_${status}`);
  });

  it("takes retryAfterMs from suggestedResolution before the Retry-After header", () => {
    expect(classifyGatewayError(429, { code: "RATE_LIMITED", retryAfterMs: 1500 }, "30").retryAfterMs).toBe(1500);
  });

  it("takes retryAfterMs from the Retry-After header in seconds when the body has none", () => {
    expect(classifyGatewayError(429, { code: "RATE_LIMITED" }, "7").retryAfterMs).toBe(7000);
  });

  it("leaves retryAfterMs unset when neither body nor header gives one", () => {
    const error = classifyGatewayError(429, { code: "RATE_LIMITED" }, null);
    expect(error.kind).toBe("rate_limited");
    expect(error.retryAfterMs).toBeUndefined();
  });
});

describe("parseRetryAfter", () => {
  it("reads delta seconds, fractional seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("2", now)).toBe(2000);
    expect(parseRetryAfter("0.5", now)).toBe(500);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
  });

  it("ignores absent and malformed values", () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("")).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-3")).toBeUndefined();
  });
});

describe("PaginationLoopError", () => {
  it("is a configuration GatewayError with its own code", () => {
    const error = new PaginationLoopError("PAGINATION_LOOP", "loop");
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.kind).toBe("configuration");
    expect(error.code).toBe("PAGINATION_LOOP");
    expect(error.retryable).toBe(false);
  });
});
