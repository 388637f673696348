/**
 * The console talks to the public REST API of the origin it was served from, and to nothing else. The API key goes
 * only into the Authorization header: never into a URL, a cookie or localStorage.
 */
import { apiBaseOf } from "./paths";

export interface Pagination {
  cursor: string | null;
  hasMore: boolean;
  totalCount?: number;
}

export interface ApiResult<T> {
  data: T;
  pagination?: Pagination;
  status: number;
}

/** An answer that was not a success: its HTTP status and the error envelope's code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The server has no such route (an endpoint that has not landed here yet). */
    readonly notAvailable: boolean,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The API base beside the page this console was served from. */
export const apiBase = (): string => apiBaseOf(location.pathname);

/** Encodes one path segment (integration, data type and connection IDs come from the API or the person). */
export const seg = (value: string): string => encodeURIComponent(value);

function withQuery(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text === "" ? path : `${path}?${text}`;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** Routes of this server, from its OpenAPI document (public): tells "not on this server" from "not found". */
export class Capabilities {
  constructor(private readonly operations: ReadonlySet<string> | undefined) {}

  /** true / false when the server's document says, undefined when it could not be read. */
  has(method: string, template: string): boolean | undefined {
    return this.operations?.has(`${method.toUpperCase()} /api/v1${template}`);
  }

  static async load(): Promise<Capabilities> {
    try {
      const response = await fetch(`${apiBase()}/openapi.json`, { cache: "no-store", credentials: "omit" });
      if (!response.ok) return new Capabilities(undefined);
      const document = (await response.json()) as { paths?: Record<string, Record<string, unknown>> };
      const operations = new Set<string>();
      for (const [path, methods] of Object.entries(document.paths ?? {})) {
        for (const method of Object.keys(methods)) operations.add(`${method.toUpperCase()} ${path}`);
      }
      return new Capabilities(operations);
    } catch {
      return new Capabilities(undefined);
    }
  }
}

export type Api = <T>(
  method: string,
  path: string,
  options?: { query?: Query; body?: unknown },
) => Promise<ApiResult<T>>;

/** A client bound to one API key; a 404/405 for a route the server lacks is an ApiError with `notAvailable`. */
export function createApi(key: string): Api {
  return async <T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${key}`, Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${apiBase()}${withQuery(path, options.query)}`, {
        method,
        headers,
        cache: "no-store",
        credentials: "omit",
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch {
      throw new ApiError(0, "NETWORK_ERROR", "The API could not be reached", false);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok) {
      const envelope = (body ?? {}) as { data?: T; pagination?: Pagination };
      return {
        data: envelope.data as T,
        status: response.status,
        ...(envelope.pagination ? { pagination: envelope.pagination } : {}),
      };
    }
    const error = (body as ErrorBody | undefined)?.error;
    const code = typeof error?.code === "string" ? error.code : `HTTP_${response.status}`;
    const message = typeof error?.message === "string" ? error.message : `The API answered ${response.status}`;
    const retryAfter = Number(response.headers.get("Retry-After"));
    throw new ApiError(
      response.status,
      code,
      message,
      isMissingRoute(response.status, code, message),
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  };
}

/** 405, or a 404 that says the route itself is unknown (the local server's and API Gateway's own answers). */
function isMissingRoute(status: number, code: string, message: string): boolean {
  if (status === 405) return true;
  return status === 404 && code === "NOT_FOUND" && /^No (such )?route/i.test(message);
}
