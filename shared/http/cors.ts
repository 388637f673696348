/**
 * CORS for the configured origins (the Waygate UI; `*` for any), one policy read by the handlers' middleware, the
 * local HTTP server and the CDK RestApi's preflight responses.
 */

/** Request headers a browser may send. */
export const CORS_ALLOW_HEADERS: readonly string[] = ["Authorization", "Content-Type", "X-Request-Id"];
/** Response headers a browser may read besides the simple ones. */
const CORS_EXPOSE_HEADERS: readonly string[] = ["Retry-After", "X-Request-Id"];
/** How long a browser keeps a preflight's answer. */
export const CORS_MAX_AGE_SECONDS = 3600;

/** `ALLOWED_ORIGINS` (comma-separated) as a list, without blanks. */
export function parseOrigins(csv: string | undefined): string[] {
  return (csv ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
}

/**
 * The CORS headers of a response to a request from `origin`: none unless the origin is allowed. The origin is echoed
 * (never `*`), so the answer is the same whether one origin or any is configured.
 */
export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !(allowed.includes(origin) || allowed.includes("*"))) return {};
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS.join(","),
    Vary: "Origin",
  };
}

/** The headers of a preflight answer for a resource whose routes have `methods`. */
export function preflightHeaders(methods: readonly string[]): Record<string, string> {
  return {
    "Access-Control-Allow-Methods": [...methods, "OPTIONS"].join(","),
    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS.join(","),
    "Access-Control-Max-Age": String(CORS_MAX_AGE_SECONDS),
  };
}
