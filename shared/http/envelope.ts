/**
 * Waygate's response envelope, the wire format the UI and the gateway already read:
 *   success `{ success: true, data, pagination? }`
 *   error   `{ success: false, error: { code, message, requestId, details?, suggestedResolution? } }`
 * `suggestedResolution` tells an agent reading the error what to do next. The zod schemas here also feed the OpenAPI
 * document, so the documented envelope is the one produced.
 */
import type { APIGatewayProxyResult } from "aws-lambda";
import { z } from "zod";
import { type AppError, RateLimitedError, type SuggestedAction } from "../domain/errors.js";

export interface PaginationMeta {
  /** Opaque, signed; null on the last page. */
  cursor: string | null;
  hasMore: boolean;
  totalCount?: number;
}

export interface SuccessEnvelope<T> {
  success: true;
  data: T;
  pagination?: PaginationMeta;
}

export interface SuggestedResolution {
  action: SuggestedAction;
  description: string;
  retryable: boolean;
  retryAfterMs?: number;
}

export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
  suggestedResolution?: SuggestedResolution;
}

export interface ErrorEnvelope {
  success: false;
  error: ErrorBody;
}

export const paginationMetaSchema = z.object({
  cursor: z.string().nullable(),
  hasMore: z.boolean(),
  totalCount: z.number().int().optional(),
});

const suggestedResolutionSchema = z.object({
  action: z.enum([
    "RETRY_WITH_MODIFIED_INPUT",
    "RETRY_AFTER_DELAY",
    "CHECK_INTEGRATION_CONFIG",
    "CHECK_API_KEY",
    "CONTACT_SUPPORT",
    "NONE",
  ]),
  description: z.string(),
  retryable: z.boolean(),
  retryAfterMs: z.number().int().optional(),
});

export const errorEnvelopeSchema = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    suggestedResolution: suggestedResolutionSchema.optional(),
  }),
});

/** Builds the success envelope. */
export function successEnvelope<T>(data: T, pagination?: PaginationMeta): SuccessEnvelope<T> {
  return pagination === undefined ? { success: true, data } : { success: true, data, pagination };
}

/** What the caller should do about an error, in Waygate's words. */
function suggestedResolutionFor(error: Pick<AppError, "code" | "status">): SuggestedResolution {
  if (error instanceof RateLimitedError) {
    return {
      action: "RETRY_AFTER_DELAY",
      description: `Too many requests; retry after ${error.retryAfterSeconds} seconds.`,
      retryable: true,
      retryAfterMs: error.retryAfterSeconds * 1000,
    };
  }
  switch (error.code) {
    case "VALIDATION_ERROR":
    case "INVALID_REQUEST":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description: "Fix the fields named in error.details and retry.",
        retryable: false,
      };
    case "CURSOR_EXPIRED":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description: "The cursor is older than 24 hours; repeat the query without a cursor to start over.",
        retryable: false,
      };
    case "QUOTA_EXCEEDED":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description:
          "A tenant quota (named in error.details.quota) is reached; remove something first or ask for a higher limit.",
        retryable: false,
      };
    case "INVALID_API_KEY":
    case "UNAUTHORIZED":
      return {
        action: "CHECK_API_KEY",
        description: "Send a valid, unrevoked API key as 'Authorization: Bearer <key>'.",
        retryable: false,
      };
    case "FORBIDDEN":
      return {
        action: "CHECK_API_KEY",
        description: "This API key lacks the scope this route needs; use a key with that scope.",
        retryable: false,
      };
    case "INTEGRATION_NOT_FOUND":
      return {
        action: "CHECK_INTEGRATION_CONFIG",
        description: "Configure a source and enroll a connection for this integration first.",
        retryable: false,
      };
    case "NOT_FOUND":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description: "Nothing exists at this path for your tenant; check the IDs in the request.",
        retryable: false,
      };
    case "METHOD_NOT_ALLOWED":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description: "Use one of the methods listed in error.details.allowed.",
        retryable: false,
      };
    case "CONFLICT":
      return {
        action: "RETRY_AFTER_DELAY",
        description: "The resource changed concurrently; read it again and retry.",
        retryable: true,
        retryAfterMs: 1000,
      };
    case "PAYLOAD_TOO_LARGE":
      return {
        action: "RETRY_WITH_MODIFIED_INPUT",
        description: "Send a request body of at most 256 KB.",
        retryable: false,
      };
    default:
      return error.status >= 500
        ? {
            action: "RETRY_AFTER_DELAY",
            description: "An unexpected error occurred; retry later and contact support if it persists.",
            retryable: true,
            retryAfterMs: 5000,
          }
        : { action: "NONE", description: "See error.message.", retryable: false };
  }
}

/** Builds the error envelope of a typed error. Never includes a stack. */
export function errorEnvelope(
  error: Pick<AppError, "code" | "status" | "message" | "details">,
  requestId: string,
): ErrorEnvelope {
  const body: ErrorBody = { code: error.code, message: error.message, requestId };
  if (error.details !== undefined) body.details = error.details;
  body.suggestedResolution = suggestedResolutionFor(error);
  return { success: false, error: body };
}

/** A JSON response with the given status and headers. */
export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(body),
  };
}

/** The error response of a typed error: its status, the envelope, and `Retry-After` for 429. */
export function errorResponse(error: AppError, requestId: string): APIGatewayProxyResult {
  const headers: Record<string, string> = { "X-Request-Id": requestId };
  if (error instanceof RateLimitedError)
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  return jsonResponse(error.status, errorEnvelope(error, requestId), headers);
}
