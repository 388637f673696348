/**
 * API Gateway REST events for handler tests, shaped like what API Gateway (and the local server) deliver: `resource`
 * is the route template of shared/http/routes.ts, `pathParameters` are filled from the concrete path, and
 * `requestContext.authorizer` carries what functions/authorizer returns ({ tenantId, keyId, scopes: "read,sync" }).
 */
import { randomUUID } from "node:crypto";
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from "aws-lambda";
import { resolveRoute } from "../../shared/http/middleware.js";

export interface TestCaller {
  tenantId: string;
  keyId?: string;
  /** Default: all three. */
  scopes?: string[];
}

export interface ApiEventInput {
  method: string;
  /** The concrete path, e.g. `/api/v1/integrations/slack/reference-data/sync`; may carry a `?query`. */
  path: string;
  query?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (malformed JSON tests). */
  body?: unknown;
  headers?: Record<string, string>;
  /** The authorizer context; `null` for an unauthenticated request. */
  caller?: TestCaller | null;
  isBase64Encoded?: boolean;
  /** Override the resource (default: the route template the path resolves to). */
  resource?: string;
}

/** Builds an API Gateway REST proxy event. */
export function apiEvent(input: ApiEventInput): APIGatewayProxyEvent {
  const [pathOnly = "", search] = input.path.split("?");
  const query: Record<string, string> = { ...Object.fromEntries(new URLSearchParams(search ?? "")), ...input.query };
  const resolved = resolveRoute({ path: pathOnly, resource: "", pathParameters: null });
  const body =
    input.body === undefined ? null : typeof input.body === "string" ? input.body : JSON.stringify(input.body);
  const requestId = randomUUID();
  const authorizer =
    input.caller === null || input.caller === undefined
      ? null
      : {
          tenantId: input.caller.tenantId,
          keyId: input.caller.keyId ?? "test-key",
          scopes: (input.caller.scopes ?? ["read", "sync", "admin"]).join(","),
          principalId: input.caller.tenantId,
        };
  const params = resolved?.pathParameters ?? {};
  return {
    resource: input.resource ?? resolved?.template ?? pathOnly,
    path: pathOnly,
    httpMethod: input.method,
    headers: { "Content-Type": "application/json", ...input.headers },
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters:
      Object.keys(query).length > 0 ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: Object.keys(params).length > 0 ? params : null,
    stageVariables: null,
    body,
    isBase64Encoded: input.isBase64Encoded ?? false,
    requestContext: {
      accountId: "123456789012",
      apiId: "test",
      authorizer,
      protocol: "HTTP/1.1",
      httpMethod: input.method,
      identity: {} as APIGatewayProxyEvent["requestContext"]["identity"],
      path: pathOnly,
      stage: "test",
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: "test",
      resourcePath: resolved?.template ?? pathOnly,
    },
  };
}

/** A REQUEST authorizer event for `headers`, as API Gateway sends it. */
export function authorizerEvent(
  headers: Record<string, string>,
  methodArn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/api/v1/integrations/slack/reference-data",
): APIGatewayRequestAuthorizerEvent {
  return {
    type: "REQUEST",
    methodArn,
    resource: "/api/v1/integrations/{integrationId}/reference-data",
    path: "/api/v1/integrations/slack/reference-data",
    httpMethod: "GET",
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    pathParameters: { integrationId: "slack" },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent["requestContext"],
  };
}

/** A Lambda-like context with a fixed remaining time. */
export function lambdaContext(remainingMs = 29_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:test",
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/test",
    logStreamName: "test",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The parsed envelope of a handler response. */
export interface ParsedResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: {
    success: boolean;
    data?: T;
    pagination?: { cursor: string | null; hasMore: boolean; totalCount?: number };
    error?: {
      code: string;
      message: string;
      requestId: string;
      details?: Record<string, unknown>;
      suggestedResolution?: { action: string; description: string; retryable: boolean; retryAfterMs?: number };
    };
  };
}

/** Parses a handler result's JSON body (throws when it is not JSON, which is itself a test failure). */
export function parseResponse<T = unknown>(result: APIGatewayProxyResult): ParsedResponse<T> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  return { status: result.statusCode, headers, body: result.body === "" ? { success: true } : JSON.parse(result.body) };
}
