/**
 * Opaque pagination cursors: `base64url(JSON { v, k: page key, t: tenant, q: query fingerprint }) . base64url(HMAC)`,
 * signed with HMAC-SHA256 under the cursor secret. A DynamoDB page key handed back unsigned would let a caller start a
 * Query anywhere in the table; signing it, and binding it to the tenant and the query that produced it, means a
 * tampered cursor, another tenant's cursor or a cursor from another query is a 400, never a read.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../domain/errors.js";
import type { PageKey } from "../storage/ports.js";

/** What a cursor is bound to: the authenticated tenant and a fingerprint of the query (see `queryFingerprint`). */
export interface CursorBinding {
  tenantId: string;
  fingerprint: string;
}

const MAX_CURSOR_LENGTH = 4096;

interface CursorPayload {
  v: 1;
  k: PageKey;
  t: string;
  q: string;
}

/**
 * A stable fingerprint of the parts of a query that define its result set (route, path parameters, filters).
 * Leave out `cursor` and `limit`: a caller may change the page size between pages.
 */
export function queryFingerprint(parts: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(parts)).digest("base64url").slice(0, 22);
}

/** Signs a page key into an opaque cursor bound to the tenant and query. */
export function encodeCursor(pageKey: PageKey, binding: CursorBinding, secret: string): string {
  const payload: CursorPayload = { v: 1, k: pageKey, t: binding.tenantId, q: binding.fingerprint };
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${sign(body, secret)}`;
}

/**
 * Verifies a cursor and returns its page key. A malformed or tampered cursor, or one issued to another tenant or
 * for another query, is a ValidationError (400 INVALID_REQUEST).
 */
export function decodeCursor(cursor: string, binding: CursorBinding, secret: string): PageKey {
  const invalid = (reason: string) =>
    new ValidationError(
      `Invalid cursor: ${reason}. Repeat the query without a cursor to start over.`,
      {
        field: "cursor",
      },
      "INVALID_REQUEST",
    );
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) throw invalid("wrong length");
  const dot = cursor.indexOf(".");
  if (dot <= 0 || dot !== cursor.lastIndexOf(".")) throw invalid("malformed");
  const body = cursor.slice(0, dot);
  const mac = Buffer.from(cursor.slice(dot + 1), "base64url");
  const expected = Buffer.from(sign(body, secret), "base64url");
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw invalid("signature mismatch");
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw invalid("malformed");
  }
  if (!isPayload(payload)) throw invalid("malformed");
  if (payload.t !== binding.tenantId) throw invalid("issued to another tenant");
  if (payload.q !== binding.fingerprint) throw invalid("issued for another query");
  return payload.k;
}

function sign(body: string, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("base64url");
}

function isPayload(value: unknown): value is CursorPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.v === 1 &&
    typeof v.t === "string" &&
    typeof v.q === "string" &&
    typeof v.k === "object" &&
    v.k !== null &&
    !Array.isArray(v.k)
  );
}

/** JSON with object keys sorted at every level and undefined members dropped, so equal queries hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
