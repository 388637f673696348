/**
 * The HTTP edge of every API Lambda, on middy. A Lambda serves several routes of shared/http/routes.ts:
 *
 *   export const handler = routeHandler({
 *     getSyncStatus: httpRoute({ scope: "read", path: pathSchema, query: querySchema }, async ({ tenantId, path, query }) =>
 *       ok(await syncStatus(deps, tenantId, path, query))),
 *   });
 *
 * `routeHandler` dispatches on `event.resource` + `httpMethod` (or, without a known resource, on `event.path` with API
 * Gateway's rule that a literal segment beats a `{param}`), answering 404/405 in the envelope otherwise.
 * `httpRoute` takes the tenant ONLY from `event.requestContext.authorizer` (401 without it, 403 without the scope),
 * validates path, query and body with zod (400 naming the field; malformed JSON 400 INVALID_REQUEST; bodies over
 * 256 KB 413) and hands typed values to the route. Every typed error is mapped here, once, to the envelope and its
 * status (429 with Retry-After); anything else is logged and becomes a 500 INTERNAL_ERROR without a stack. CORS
 * headers are added for the origins in ALLOWED_ORIGINS (shared/http/cors.ts).
 */
import { randomUUID } from "node:crypto";
import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { z } from "zod";
import { loadConfig } from "../config.js";
import type { ApiKeyScope } from "../domain/entities.js";
import {
  type AppError,
  ForbiddenError,
  InternalError,
  isAppError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from "../domain/errors.js";
import { ID_PATTERN } from "../domain/ids.js";
import { MAX_JSON_DEPTH, tooDeepPath } from "../domain/json-depth.js";
import { isApiKeyScope } from "../domain/scopes.js";
import { parseOrThrow } from "../domain/validate.js";
import { createSecretsLoader } from "../gateway/secrets.js";
import { createLogger, type Logger } from "../log.js";
import { getRuntime, provideSecrets } from "../runtime.js";
import { corsHeaders, parseOrigins, preflightHeaders } from "./cors.js";
import { errorResponse, jsonResponse, type PaginationMeta, successEnvelope } from "./envelope.js";
import { headerValue } from "./headers.js";
import { keyRateLimiter } from "./rate-limit.js";
import { ROUTES, type RouteDefinition } from "./routes.js";

// Every API function reads the stack's secrets (the cursors' key).
provideSecrets(createSecretsLoader);

/** DESIGN.md: request bodies over 256 KB get 413. */
export const MAX_BODY_BYTES = 256 * 1024;

export type RouteScope = ApiKeyScope | "public";

/** The authenticated caller, as the authorizer put it in the request context. */
export interface Caller {
  tenantId: string;
  keyId: string;
  scopes: ApiKeyScope[];
}

type RawParams = Record<string, string>;

/** What a route receives: the caller's tenant, and validated path, query and body. */
export interface RouteInput<S extends RouteScope, P, Q, B> {
  /** The tenant from the authorizer context; never from the path, query, body or headers. */
  tenantId: S extends "public" ? undefined : string;
  keyId: S extends "public" ? undefined : string;
  scopes: ApiKeyScope[];
  path: P;
  query: Q;
  body: B;
  requestId: string;
  event: APIGatewayProxyEvent;
  context: Context;
  log: Logger;
}

/** A route's answer: `data` inside the success envelope, or `raw` JSON as is (the OpenAPI document). */
export type RouteResult =
  | { status?: 200 | 201 | 202; data: unknown; pagination?: PaginationMeta; headers?: Record<string, string> }
  | { status?: 200; raw: unknown; headers?: Record<string, string> }
  /** 304: the caller's `If-None-Match` still matches (no body). */
  | { status: 304; notModified: true; headers: Record<string, string> };

/** 200 with `data` (and `pagination` for list routes). */
export const ok = (data: unknown, pagination?: PaginationMeta): RouteResult =>
  pagination === undefined ? { data } : { data, pagination };
/** 201 with `data`. */
export const created = (data: unknown): RouteResult => ({ status: 201, data });
/** 202 with `data`. */
export const accepted = (data: unknown): RouteResult => ({ status: 202, data });
/** 200 with `body` as the whole response, no envelope. */
export const raw = (body: unknown): RouteResult => ({ raw: body });

export interface RouteSpec<S extends RouteScope, P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  /** The API-key scope required; should equal the route's `auth` in routes.ts (routeHandler checks). */
  scope: S;
  path?: P;
  query?: Q;
  /** Without a body schema the body is ignored (but still size-checked). An empty body parses as `undefined`. */
  body?: B;
  /** For the OpenAPI document only: the schema of `data` in the success envelope, its status, and whether paged. */
  response?: RouteResponseDoc;
}

/** How a route's success response is documented in the OpenAPI document. */
export interface RouteResponseDoc {
  data?: z.ZodType;
  status?: 200 | 201 | 202;
  paginated?: boolean;
  /** The response is `data` itself, not enveloped (the OpenAPI document). */
  raw?: boolean;
}

/** A route ready to be served by routeHandler; its schemas are kept for the OpenAPI document. */
export interface HttpRoute {
  readonly scope: RouteScope;
  readonly schemas: { path?: z.ZodType; query?: z.ZodType; body?: z.ZodType; response?: RouteResponseDoc };
  run(request: RawRequest): Promise<RouteResult>;
}

/** What routeHandler passes a route after dispatching. */
export interface RawRequest {
  event: APIGatewayProxyEvent;
  context: Context;
  pathParameters: RawParams;
  requestId: string;
  log: Logger;
}

const rawParamsSchema = z.record(z.string(), z.string());

/**
 * Declares one route: its scope, the zod schemas of its path parameters, query string and body, and the function
 * that serves it with typed values.
 */
export function httpRoute<
  S extends RouteScope,
  P extends z.ZodType = z.ZodType<RawParams>,
  Q extends z.ZodType = z.ZodType<RawParams>,
  B extends z.ZodType = z.ZodUndefined,
>(
  spec: RouteSpec<S, P, Q, B>,
  handler: (input: RouteInput<S, z.output<P>, z.output<Q>, z.output<B>>) => Promise<RouteResult>,
): HttpRoute {
  const schemas: HttpRoute["schemas"] = {};
  if (spec.path) schemas.path = spec.path;
  if (spec.query) schemas.query = spec.query;
  if (spec.body) schemas.body = spec.body;
  if (spec.response) schemas.response = spec.response;
  return {
    scope: spec.scope,
    schemas,
    async run({ event, context, pathParameters, requestId, log }) {
      const caller = spec.scope === "public" ? undefined : authenticate(event, spec.scope);
      if (caller) limitRate(caller);
      const path = parseOrThrow(spec.path ?? rawParamsSchema, pathParameters, "path parameters");
      const query = parseOrThrow(spec.query ?? rawParamsSchema, queryParameters(event), "query parameters");
      const bodyText = bodyOf(event);
      const body = spec.body ? parseOrThrow(spec.body, parseJsonBody(bodyText), "request body") : undefined;
      const input = {
        tenantId: caller?.tenantId,
        keyId: caller?.keyId,
        scopes: caller?.scopes ?? [],
        path,
        query,
        body,
        requestId,
        event,
        context,
        log: caller ? log.child({ tenantId: caller.tenantId }) : log,
      } as RouteInput<S, z.output<P>, z.output<Q>, z.output<B>>;
      return handler(input);
    },
  };
}

export interface RouteHandlerOptions {
  logger?: Logger;
  /** Origins allowed by CORS; default: ALLOWED_ORIGINS (comma-separated, `*` for any). */
  allowedOrigins?: readonly string[];
}

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * One Lambda handler serving the given routes (keyed by operationId of routes.ts). Throws at load time when an
 * operationId is unknown or its scope differs from the route table, so a handler cannot drift from the table.
 */
export function routeHandler(routes: Record<string, HttpRoute>, options: RouteHandlerOptions = {}): ApiHandler {
  for (const [operationId, route] of Object.entries(routes)) {
    const definition = ROUTES.find((r) => r.operationId === operationId);
    if (!definition) throw new Error(`routeHandler: '${operationId}' is not in shared/http/routes.ts`);
    if (definition.auth !== route.scope) {
      throw new Error(
        `routeHandler: '${operationId}' has scope '${route.scope}' but routes.ts says '${definition.auth}'`,
      );
    }
  }
  let log: Logger | undefined = options.logger;
  let origins: readonly string[] | undefined = options.allowedOrigins;
  const logger = () => {
    log ??= createLogger({ component: "http" });
    return log;
  };
  const allowedOrigins = () => {
    origins ??= configuredOrigins();
    return origins;
  };

  const dispatch = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = requestIdOf(event, context);
    const reqLog = logger().child({ requestId });
    const method = (event.httpMethod ?? "").toUpperCase();
    const resolved = resolveRoute(event);
    if (!resolved) {
      throw new NotFoundError(`No route for ${method} ${event.path ?? event.resource ?? ""}`, {
        path: event.path ?? null,
      });
    }
    const { candidates, pathParameters } = resolved;
    if (method === "OPTIONS") {
      return {
        statusCode: 204,
        headers: { "X-Request-Id": requestId, ...preflightHeaders(candidates.map((r) => r.method)) },
        body: "",
      };
    }
    const definition = candidates.find((r) => r.method === method);
    if (!definition) {
      throw new MethodNotAllowedError(`${method} is not allowed on ${resolved.template}`, {
        allowed: candidates.map((r) => r.method),
      });
    }
    const route = routes[definition.operationId];
    if (!route) throw new NotFoundError(`No route for ${method} ${resolved.template}`, { path: event.path ?? null });
    checkBodySize(event);
    const result = await route.run({ event, context, pathParameters, requestId, log: reqLog });
    const headers = { "X-Request-Id": requestId, ...result.headers };
    if ("notModified" in result) return { statusCode: 304, headers, body: "" };
    if ("raw" in result) return jsonResponse(result.status ?? 200, result.raw, headers);
    return jsonResponse(result.status ?? 200, successEnvelope(result.data, result.pagination), headers);
  };

  const envelope: middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> = {
    name: "http-envelope",
    after: (request) => {
      if (request.response) request.response = withCors(request.response, request.event, allowedOrigins());
    },
    onError: (request) => {
      const requestId = requestIdOf(request.event, request.context);
      const response = errorResponse(toAppError(request.error, requestId, logger(), request.event), requestId);
      request.response = withCors(response, request.event, allowedOrigins());
    },
  };

  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>(dispatch).use(envelope);
  return (event, context) => handler(event, context);
}

/** Reads and checks the caller from the authorizer context; 401 without a valid tenant, 403 without the scope. */
export function authenticate(event: APIGatewayProxyEvent, scope: ApiKeyScope): Caller {
  const caller = callerOf(event);
  if (!caller) throw new UnauthorizedError("Missing or invalid API key");
  if (!caller.scopes.includes(scope)) {
    throw new ForbiddenError(`This API key lacks the '${scope}' scope`, { required: scope, granted: caller.scopes });
  }
  return caller;
}

/** 429 RATE_LIMITED with Retry-After once the caller's API key passes its rate (shared/http/rate-limit.ts). */
function limitRate(caller: Caller): void {
  const decision = keyRateLimiter(getRuntime().config).take(`${caller.tenantId}:${caller.keyId}`);
  if (decision.allowed) return;
  throw new RateLimitedError(
    `Too many requests for this API key; retry after ${decision.retryAfterSeconds} s`,
    decision.retryAfterSeconds,
    { limit: "apiKeyRate" },
  );
}

/** The caller of an authorized request, or undefined when the authorizer context is missing or malformed. */
function callerOf(event: APIGatewayProxyEvent): Caller | undefined {
  const context = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!context) return undefined;
  const { tenantId, keyId, scopes } = context;
  if (typeof tenantId !== "string" || !ID_PATTERN.test(tenantId)) return undefined;
  const list = typeof scopes === "string" ? scopes.split(",") : Array.isArray(scopes) ? scopes : [];
  const valid = list.map((s) => (typeof s === "string" ? s.trim() : "")).filter(isApiKeyScope);
  return { tenantId, keyId: typeof keyId === "string" ? keyId : "", scopes: valid };
}

/** Finds the route template of a request and its path parameters, or undefined when no template matches. */
export function resolveRoute(
  event: Pick<APIGatewayProxyEvent, "resource" | "path" | "pathParameters">,
): { template: string; candidates: RouteDefinition[]; pathParameters: RawParams } | undefined {
  const byResource = event.resource ? ROUTES.filter((r) => r.path === event.resource) : [];
  if (byResource.length > 0 && event.resource) {
    return {
      template: event.resource,
      candidates: byResource,
      pathParameters: decodeParams(event.pathParameters ?? {}),
    };
  }
  if (!event.path) return undefined;
  const matched = matchTemplate(event.path);
  if (!matched) return undefined;
  return {
    template: matched.template,
    candidates: ROUTES.filter((r) => r.path === matched.template),
    pathParameters: decodeParams(matched.params),
  };
}

const TEMPLATES = [...new Set(ROUTES.map((r) => r.path))].map((template) => ({
  template,
  segments: template.split("/").filter((s) => s !== ""),
}));

/** API Gateway's matching: at each segment a literal beats a `{param}`. */
function matchTemplate(path: string): { template: string; params: RawParams } | undefined {
  const segments =
    path
      .split("?")[0]
      ?.split("/")
      .filter((s) => s !== "") ?? [];
  let best: { template: string; params: RawParams; rank: string } | undefined;
  for (const t of TEMPLATES) {
    if (t.segments.length !== segments.length) continue;
    const params: RawParams = {};
    let rank = "";
    let matches = true;
    for (let i = 0; i < segments.length; i++) {
      const pattern = t.segments[i] ?? "";
      const actual = segments[i] ?? "";
      if (pattern.startsWith("{") && pattern.endsWith("}")) {
        params[pattern.slice(1, -1)] = actual;
        rank += "1";
      } else if (pattern === actual) {
        rank += "0";
      } else {
        matches = false;
        break;
      }
    }
    if (matches && (!best || rank < best.rank)) best = { template: t.template, params, rank };
  }
  return best && { template: best.template, params: best.params };
}

function decodeParams(params: Record<string, string | undefined>): RawParams {
  const out: RawParams = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    try {
      out[name] = value.includes("%") ? decodeURIComponent(value) : value;
    } catch {
      throw new ValidationError(`Path parameter '${name}' is not valid percent-encoding`, { field: name });
    }
  }
  return out;
}

function queryParameters(event: APIGatewayProxyEvent): RawParams {
  const out: RawParams = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function bodyOf(event: APIGatewayProxyEvent): string | undefined {
  if (event.body === null || event.body === undefined) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
}

function checkBodySize(event: APIGatewayProxyEvent): void {
  if (event.body === null || event.body === undefined) return;
  const bytes = event.isBase64Encoded
    ? Buffer.from(event.body, "base64").byteLength
    : Buffer.byteLength(event.body, "utf8");
  if (bytes > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`Request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES}`, {
      limitBytes: MAX_BODY_BYTES,
      bytes,
    });
  }
}

function parseJsonBody(text: string | undefined): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError("Request body is not valid JSON", { field: "body" }, "INVALID_REQUEST");
  }
  // Before zod: schemas and DynamoDB walk values recursively, and DynamoDB stores at most 32 levels.
  const deep = tooDeepPath(value);
  if (deep !== undefined) {
    throw new ValidationError(`Request body nests deeper than ${MAX_JSON_DEPTH} levels at '${deep}'`, {
      issues: [{ field: deep, message: `nests deeper than ${MAX_JSON_DEPTH} levels` }],
    });
  }
  return value;
}

function requestIdOf(event: APIGatewayProxyEvent | undefined, context: Context | undefined): string {
  return event?.requestContext?.requestId || context?.awsRequestId || randomUUID();
}

function toAppError(error: unknown, requestId: string, log: Logger, event: APIGatewayProxyEvent): AppError {
  const where = { requestId, method: event?.httpMethod, resource: event?.resource, path: event?.path };
  if (isAppError(error) && error.status < 500) {
    log.info("request rejected", { ...where, status: error.status, code: error.code, reason: error.message });
    return error;
  }
  // A fault: the log keeps everything, the caller gets a generic message (no stack, no internals).
  log.error("request failed", { ...where, error });
  return new InternalError("An internal error occurred");
}

function configuredOrigins(): string[] {
  try {
    return parseOrigins(loadConfig().ALLOWED_ORIGINS);
  } catch {
    return [];
  }
}

function withCors(
  response: APIGatewayProxyResult,
  event: APIGatewayProxyEvent | undefined,
  origins: readonly string[],
): APIGatewayProxyResult {
  const cors = corsHeaders(headerValue(event?.headers, "origin"), origins);
  return Object.keys(cors).length === 0 ? response : { ...response, headers: { ...response.headers, ...cors } };
}
