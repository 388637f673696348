/**
 * Serves the admin console (DESIGN.md, "Admin console") from the API's own origin: `GET /console` is the page and
 * `GET /console/{asset}` its script, stylesheet and icon. Every answer carries a strict Content-Security-Policy: only
 * this origin's scripts and styles (no inline script or style), API calls only to this origin, nothing framed, no
 * third-party origin anywhere.
 */
import { createHash } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { headerValue } from "../http/headers.js";
import type { ConsoleAssets } from "./assets.js";

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  // Not content-hashed names: revalidate every time (cheap with the ETag), so a deploy shows at once.
  "Cache-Control": "no-cache",
};

/** The page's placeholder for where its files are, relative to the page's own URL. */
const BASE_PLACEHOLDER = "%BASE%";

/**
 * The answer to a console request: the page for `/console` (and `/console/`), a file for `/console/{asset}`, 404 for
 * anything else, 304 when `If-None-Match` matches. Only GET and HEAD reach here (the routes are GET).
 */
export function consoleResponse(
  event: Pick<APIGatewayProxyEvent, "path" | "pathParameters" | "headers" | "httpMethod">,
  assets: ConsoleAssets,
): APIGatewayProxyResult {
  const asset = event.pathParameters?.asset;
  const name = asset === undefined || asset === "" ? "index.html" : decodeSegment(asset);
  const file = name === undefined ? undefined : assets.files[name];
  if (file === undefined || (asset !== undefined && name === "index.html")) {
    return {
      statusCode: 404,
      headers: { ...SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8" },
      body: "Not found",
    };
  }
  // The page links its files relative to itself: `console/app.js` from `/console`, `app.js` from `/console/`, so it
  // works under any stage or base path (API Gateway serves it at `/prod/console`).
  const body =
    name === "index.html"
      ? file.body.replaceAll(BASE_PLACEHOLDER, (event.path ?? "").endsWith("/") ? "" : "console/")
      : file.body;
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  const headers = { ...SECURITY_HEADERS, "Content-Type": file.contentType, ETag: etag };
  if (headerValue(event.headers, "if-none-match") === etag) return { statusCode: 304, headers, body: "" };
  return { statusCode: 200, headers, body: event.httpMethod === "HEAD" ? "" : body };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
