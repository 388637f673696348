import { describe, expect, it } from "vitest";
import {
  ForbiddenError,
  InternalError,
  PayloadTooLargeError,
  RateLimitedError,
  ValidationError,
} from "../../../shared/domain/errors.js";
import { errorEnvelope, errorEnvelopeSchema, errorResponse, successEnvelope } from "../../../shared/http/envelope.js";

describe("envelope", () => {
  it("builds the success envelope with and without pagination", () => {
    expect(successEnvelope([1])).toEqual({ success: true, data: [1] });
    expect(successEnvelope([1], { cursor: null, hasMore: false })).toEqual({
      success: true,
      data: [1],
      pagination: { cursor: null, hasMore: false },
    });
  });

  it("builds an error envelope that matches its documented schema and carries details", () => {
    const envelope = errorEnvelope(new ValidationError("Invalid body", { issues: [{ field: "x" }] }), "req-1");

    expect(errorEnvelopeSchema.parse(envelope)).toEqual(envelope);
    expect(envelope.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid body",
      requestId: "req-1",
      details: { issues: [{ field: "x" }] },
      suggestedResolution: expect.objectContaining({ action: "RETRY_WITH_MODIFIED_INPUT", retryable: false }),
    });
  });

  it.each([
    [new ForbiddenError("no"), "CHECK_API_KEY", false],
    [new PayloadTooLargeError("big"), "RETRY_WITH_MODIFIED_INPUT", false],
    [new InternalError("boom"), "RETRY_AFTER_DELAY", true],
  ])("suggests what to do for %s", (error, action, retryable) => {
    expect(errorEnvelope(error, "r").error.suggestedResolution).toEqual(expect.objectContaining({ action, retryable }));
  });

  it("sets Retry-After on a 429 response, rounded up to whole seconds", () => {
    const res = errorResponse(new RateLimitedError("slow", 1.2), "r");

    expect(res.statusCode).toBe(429);
    expect(res.headers?.["Retry-After"]).toBe("2");
    expect(JSON.parse(res.body).error.suggestedResolution.retryAfterMs).toBe(1200);
  });
});
