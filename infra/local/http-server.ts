/**
 * The local API Gateway: an HTTP server on 127.0.0.1 built from the same route table as the CDK RestApi
 * (shared/http/routes.ts). Each request is matched to its route template the way API Gateway matches resources (a
 * literal segment beats a `{param}`), authorized like the REQUEST authorizer does for every non-public route, turned
 * into an API Gateway REST proxy event and handed to the route's Lambda handler; the handler's status, headers and
 * body go back as they are. What API Gateway answers by itself (no such route, wrong method, missing or bad API key,
 * oversized payload, a handler that crashed or timed out) is answered here in the same error envelope that the
 * stack's customised gateway responses use.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  type AppError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from "../../shared/domain/errors.js";
import type { AuthorizerContext } from "../../shared/http/authorizer.js";
import { corsHeaders } from "../../shared/http/cors.js";
import { errorEnvelope } from "../../shared/http/envelope.js";
import { headerValue } from "../../shared/http/headers.js";
import { type ApiHandler, resolveRoute } from "../../shared/http/middleware.js";
import { type ApiFunctionName, matchConsoleRoute, type RouteDefinition } from "../../shared/http/routes.js";
import type { Logger } from "../../shared/log.js";
import { createLambdaContext, LOCAL_ACCOUNT_ID } from "./lambda-context.js";
import { listenOnLoopback } from "./listen.js";

export interface HttpServerOptions {
  /** 0 = a free port. */
  port: number;
  /** The handler of an API function (loaded lazily, once). */
  handler: (name: ApiFunctionName) => Promise<ApiHandler>;
  /** The authorizer: the caller of a request's headers, or undefined for a missing, unknown or revoked key. */
  authorize: (headers: Record<string, string>) => Promise<AuthorizerContext | undefined>;
  log: Logger;
  /** API Gateway's integration timeout (29 s). */
  timeoutMs?: number;
  /** Origins that get CORS headers on the server's own error responses (the handlers add theirs). */
  allowedOrigins?: readonly string[];
  /**
   * Like API Gateway's authorizer result cache (keyed by the Authorization header): an allowed caller is not
   * re-authorized for this long, so a revoked key keeps working until then. 0 (the default) disables it.
   */
  authorizerCacheMs?: number;
  /** Clock of the authorizer cache (tests). */
  now?: () => number;
  /** The console function's handler (loaded lazily, once), serving `GET /console` and its files; none: 404. */
  console?: () => Promise<ApiHandler>;
}

export interface LocalHttpServer {
  url: string;
  port: number;
  /** Stops accepting connections and waits up to `graceMs` for requests in flight. */
  stop(graceMs: number): Promise<void>;
}

/** API Gateway's own payload limit; the handlers enforce the API's 256 KB limit themselves. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const INTEGRATION_TIMEOUT_MS = 29_000;
const STAGE = "local";

class GatewayFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the server; resolves once it listens. */
export async function startHttpServer(serverOptions: HttpServerOptions): Promise<LocalHttpServer> {
  const options = { ...serverOptions, authorize: cachedAuthorizer(serverOptions) };
  const timeoutMs = options.timeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    const work = serve(req, res, options, timeoutMs).catch((error: unknown) => {
      options.log.error("local API server failed to answer a request", { error });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    inFlight.add(work);
    work.finally(() => inFlight.delete(work));
  });
  server.keepAliveTimeout = 5_000;
  const port = await listenOnLoopback(server, options.port, "PORT");
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions, timeoutMs: number) {
  const requestId = randomUUID();
  const started = Date.now();
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const headers = collectHeaders(req);
  const cors = corsHeaders(headerValue(headers.single, "origin"), options.allowedOrigins ?? []);
  let status = 500;
  try {
    const body = await readBody(req, MAX_PAYLOAD_BYTES);
    const consoleRoute = options.console ? matchConsoleRoute(url.pathname) : undefined;
    if (consoleRoute && options.console) {
      const input = { method, url, template: consoleRoute.template, headers, body, requestId };
      status = await serveConsole(res, input, req.socket.remoteAddress, await options.console(), timeoutMs);
      return;
    }
    const resolved = resolveRoute({ path: url.pathname, resource: "", pathParameters: null });
    if (!resolved) throw new NotFoundError(`No route for ${method} ${url.pathname}`, { path: url.pathname });
    const preflight = method === "OPTIONS";
    const definition: RouteDefinition | undefined = preflight
      ? resolved.candidates[0]
      : resolved.candidates.find((route) => route.method === method);
    if (!definition) {
      const allowed = resolved.candidates.map((route) => route.method);
      throw new MethodNotAllowedError(`${method} is not allowed on ${resolved.template}`, { allowed });
    }
    let authorizer: AuthorizerContext | undefined;
    // CORS preflights never carry credentials; API Gateway answers them without the authorizer.
    if (definition.auth !== "public" && !preflight) {
      authorizer = await options.authorize(headers.single).catch((error: unknown) => {
        options.log.error("authorizer failed", { requestId, error });
        throw new GatewayFault(500, "INTERNAL_ERROR", "The authorizer failed");
      });
      if (!authorizer) throw new UnauthorizedError("Missing or invalid API key");
    }
    const event = buildApiEvent({
      method,
      url,
      template: resolved.template,
      headers,
      body,
      requestId,
      sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
      authorizer,
    });
    const handler = await options.handler(definition.function);
    const context = createLambdaContext({ functionName: definition.function, timeoutMs });
    const result = await withTimeout(handler(event, context), timeoutMs);
    status = writeResult(res, result, requestId);
  } catch (error) {
    status = writeError(res, error, requestId, cors, options.log);
  } finally {
    options.log.debug("request", { requestId, method, path: url.pathname, status, ms: Date.now() - started });
  }
}

/** The console's two public GET routes (shared/http/routes.ts), answered by the console function like any route. */
async function serveConsole(
  res: ServerResponse,
  input: Omit<ApiEventInput, "sourceIp">,
  sourceIp: string | undefined,
  handler: ApiHandler,
  timeoutMs: number,
): Promise<number> {
  if (input.method !== "GET" && input.method !== "HEAD") {
    throw new MethodNotAllowedError(`${input.method} is not allowed on ${input.template}`, { allowed: ["GET"] });
  }
  const event = buildApiEvent({ ...input, sourceIp: sourceIp ?? "127.0.0.1" });
  const context = createLambdaContext({ functionName: "console", timeoutMs });
  return writeResult(res, await withTimeout(handler(event, context), timeoutMs), input.requestId);
}

/** The parts of an API Gateway REST proxy event that depend on the request. */
export interface ApiEventInput {
  method: string;
  url: URL;
  /** The route template, e.g. `/api/v1/integrations/{integrationId}/reference-data`. */
  template: string;
  headers: { single: Record<string, string>; multi: Record<string, string[]> };
  body: string | null;
  requestId: string;
  sourceIp: string;
  authorizer?: AuthorizerContext | undefined;
  now?: number;
}

/**
 * The event API Gateway's Lambda proxy integration sends: `resource` is the template, `pathParameters` the raw
 * (still percent-encoded) segments, the query string both single-valued (last value wins) and multi-valued.
 */
function buildApiEvent(input: ApiEventInput): APIGatewayProxyEvent {
  const now = input.now ?? Date.now();
  const path = input.url.pathname;
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of input.url.searchParams) {
    query[name] = value;
    multiQuery[name] = [...(multiQuery[name] ?? []), value];
  }
  const pathParameters = templateParameters(input.template, path);
  const hasQuery = Object.keys(query).length > 0;
  return {
    resource: input.template,
    path,
    httpMethod: input.method,
    headers: input.headers.single,
    multiValueHeaders: input.headers.multi,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: input.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: "local",
      authorizer: input.authorizer
        ? { ...input.authorizer, principalId: `${input.authorizer.tenantId}/${input.authorizer.keyId}` }
        : null,
      protocol: "HTTP/1.1",
      httpMethod: input.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: input.sourceIp,
        user: null,
        userAgent: headerValue(input.headers.single, "user-agent") ?? null,
        userArn: null,
      },
      path: `/${STAGE}${path}`,
      stage: STAGE,
      requestId: input.requestId,
      extendedRequestId: input.requestId,
      requestTime: requestTime(now),
      requestTimeEpoch: now,
      resourceId: "local",
      resourcePath: input.template,
      domainName: headerValue(input.headers.single, "host") ?? "127.0.0.1",
    },
  };
}

/** `{name}` segments of the template, taken from the path as sent (API Gateway decodes nothing here either). */
function templateParameters(template: string, path: string): Record<string, string> {
  const names = template.split("/").filter((s) => s !== "");
  const values = path.split("/").filter((s) => s !== "");
  const out: Record<string, string> = {};
  names.forEach((segment, index) => {
    const value = values[index];
    if (segment.startsWith("{") && segment.endsWith("}") && value !== undefined) out[segment.slice(1, -1)] = value;
  });
  return out;
}

/** Headers with their original case, as API Gateway passes them: the last value of a repeated header wins. */
function collectHeaders(req: IncomingMessage): { single: Record<string, string>; multi: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? "";
    const value = req.rawHeaders[i + 1] ?? "";
    single[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  return { single, multi };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.byteLength;
    if (size > limit) {
      throw new PayloadTooLargeError(`Request body exceeds ${limit} bytes`, { limitBytes: limit });
    }
    chunks.push(buffer);
  }
  return size === 0 ? null : Buffer.concat(chunks).toString("utf8");
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new GatewayFault(504, "TIMEOUT", `The handler did not answer within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function writeResult(res: ServerResponse, result: unknown, requestId: string): number {
  if (!isProxyResult(result)) {
    throw new GatewayFault(502, "INTERNAL_ERROR", "The handler returned a malformed proxy response");
  }
  const headers: Record<string, string | string[]> = { "x-amzn-RequestId": requestId };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    headers[name] = values.map((value) => String(value));
  }
  const body = result.isBase64Encoded ? Buffer.from(result.body, "base64") : Buffer.from(result.body ?? "", "utf8");
  res.writeHead(result.statusCode, headers);
  res.end(body);
  return result.statusCode;
}

function isProxyResult(value: unknown): value is APIGatewayProxyResult {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<APIGatewayProxyResult>;
  return (
    typeof candidate.statusCode === "number" &&
    Number.isInteger(candidate.statusCode) &&
    candidate.statusCode >= 100 &&
    candidate.statusCode <= 599 &&
    (candidate.body === undefined || typeof candidate.body === "string")
  );
}

function writeError(
  res: ServerResponse,
  error: unknown,
  requestId: string,
  cors: Record<string, string>,
  log: Logger,
): number {
  let failure: Pick<AppError, "code" | "status" | "message" | "details">;
  if (error instanceof GatewayFault) {
    failure = { code: error.code, status: error.status, message: error.message, details: undefined };
  } else if (
    error instanceof NotFoundError ||
    error instanceof MethodNotAllowedError ||
    error instanceof UnauthorizedError ||
    error instanceof PayloadTooLargeError ||
    error instanceof ValidationError
  ) {
    failure = error;
  } else {
    // A Lambda proxy integration whose function throws: API Gateway answers 502.
    log.error("handler failed", { requestId, error });
    failure = { code: "INTERNAL_ERROR", status: 502, message: "An internal error occurred", details: undefined };
  }
  if (res.headersSent) {
    res.destroy();
    return failure.status;
  }
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "x-amzn-RequestId": requestId,
    "X-Request-Id": requestId,
    ...cors,
  };
  if (error instanceof MethodNotAllowedError) {
    const allowed = (error.details?.allowed as string[] | undefined) ?? [];
    headers.Allow = allowed.join(", ");
  }
  res.writeHead(failure.status, headers);
  res.end(JSON.stringify(errorEnvelope(failure, requestId)));
  return failure.status;
}

/** API Gateway's `requestTime` format: `09/Apr/2015:12:34:56 +0000`. */
function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} +0000`;
}

/** Caches allowed callers by Authorization header for `authorizerCacheMs`, as API Gateway's authorizer cache does. */
function cachedAuthorizer(options: HttpServerOptions): HttpServerOptions["authorize"] {
  const ttl = options.authorizerCacheMs ?? 0;
  if (ttl <= 0) return options.authorize;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { context: AuthorizerContext; expiresAt: number }>();
  return async (headers) => {
    const key = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit && hit.expiresAt > now()) return hit.context;
    const context = await options.authorize(headers);
    if (key !== undefined) {
      if (context) {
        if (cache.size >= 1_000) cache.delete(cache.keys().next().value as string);
        cache.set(key, { context, expiresAt: now() + ttl });
      } else cache.delete(key);
    }
    return context;
  };
}
