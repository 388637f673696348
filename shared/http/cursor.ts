/**
 * Opaque pagination cursors: `base64url(AES-256-GCM(JSON { v, k: page key, t: tenant, q: query fingerprint, i: issued
 * at })) . base64url(HMAC)`. A DynamoDB page key handed back in the clear would show the table's key shapes, and
 * unsigned it would let a caller start a Query anywhere in the table: the payload is encrypted (nothing of it is
 * readable), signed with HMAC-SHA256 under the cursor secret, bound to the tenant and the query that produced it, and
 * valid for CURSOR_TTL_MS. A tampered cursor, another tenant's cursor or a cursor from another query is a 400
 * INVALID_REQUEST; an old one is a 400 CURSOR_EXPIRED (repeat the query without a cursor), never a read.
 *
 * Key rotation has an overlap window (docs/RUNBOOK.md): cursors are always sealed under the current key and accepted
 * under the current or the previous one, so the cursors outstanding when the stack secret is rotated keep working
 * until the previous key is dropped.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../domain/errors.js";
import type { PageKey } from "../storage/ports.js";

/** The cursor keys of the stack secret: new cursors use `current`; `previous` is still accepted during a rotation. */
export interface CursorKeys {
  current: string;
  previous?: string | undefined;
}

/** What a cursor is bound to: the authenticated tenant and a fingerprint of the query (see `queryFingerprint`). */
export interface CursorBinding {
  tenantId: string;
  fingerprint: string;
}

const MAX_CURSOR_LENGTH = 4096;
/** A cursor older than this is a 400 CURSOR_EXPIRED. */
export const CURSOR_TTL_MS = 24 * 60 * 60 * 1000;

interface CursorPayload {
  v: 2;
  k: PageKey;
  t: string;
  q: string;
  /** Issued at, epoch ms. */
  i: number;
}

/** When "now" is for a cursor (tests and handlers pass their clock). */
export interface CursorClock {
  now?: number;
  /** How old a cursor may be (default CURSOR_TTL_MS); the change feed's live as long as its changes are kept. */
  maxAgeMs?: number;
}

/**
 * A stable fingerprint of the parts of a query that define its result set (route, path parameters, filters).
 * Leave out `cursor` and `limit`: a caller may change the page size between pages.
 */
export function queryFingerprint(parts: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(parts)).digest("base64url").slice(0, 22);
}

/** Encrypts and signs a page key, under the current key, into an opaque cursor bound to the tenant and query. */
export function encodeCursor(
  pageKey: PageKey,
  binding: CursorBinding,
  keys: CursorKeys,
  clock: CursorClock = {},
): string {
  const secret = keys.current;
  const payload: CursorPayload = {
    v: 2,
    k: pageKey,
    t: binding.tenantId,
    q: binding.fingerprint,
    i: clock.now ?? Date.now(),
  };
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", encryptionKey(secret), iv);
  const sealed = Buffer.concat([
    iv,
    cipher.update(JSON.stringify(payload), "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  const body = sealed.toString("base64url");
  return `${body}.${sign(body, secret)}`;
}

/**
 * Verifies a cursor (under the current or the previous key) and returns its page key. A malformed or tampered cursor,
 * one signed with neither key, or one issued to another tenant or for another query, is a ValidationError (400
 * INVALID_REQUEST); one older than CURSOR_TTL_MS is 400 CURSOR_EXPIRED.
 */
export function decodeCursor(
  cursor: string,
  binding: CursorBinding,
  keys: CursorKeys,
  clock: CursorClock = {},
): PageKey {
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
  // Compared as text, not as decoded bytes: base64url's last character carries unused bits, so decoding would accept
  // a few altered spellings of the same signature.
  const mac = Buffer.from(cursor.slice(dot + 1), "utf8");
  const secret = [keys.current, keys.previous].find((key) => key !== undefined && signedWith(body, mac, key));
  if (secret === undefined) throw invalid("signature mismatch");
  let payload: unknown;
  try {
    const sealed = Buffer.from(body, "base64url");
    if (sealed.length < 12 + 16 + 2) throw new Error("too short");
    const decipher = createDecipheriv("aes-256-gcm", encryptionKey(secret), sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
    payload = JSON.parse(plain.toString("utf8"));
  } catch {
    throw invalid("malformed");
  }
  if (!isPayload(payload)) throw invalid("malformed");
  if (payload.t !== binding.tenantId) throw invalid("issued to another tenant");
  if (payload.q !== binding.fingerprint) throw invalid("issued for another query");
  const age = (clock.now ?? Date.now()) - payload.i;
  if (age > (clock.maxAgeMs ?? CURSOR_TTL_MS)) {
    throw new ValidationError(
      "The cursor has expired (cursors are valid for 24 hours). Repeat the query without a cursor to start over.",
      { field: "cursor", ttlSeconds: CURSOR_TTL_MS / 1000 },
      "CURSOR_EXPIRED",
    );
  }
  return payload.k;
}

/** The AES key of cursors, derived from the cursor secret (the HMAC uses the secret itself). */
function encryptionKey(secret: string): Buffer {
  return createHash("sha256").update("reference-data-sync cursor encryption\0").update(secret).digest();
}

function sign(body: string, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("base64url");
}

function signedWith(body: string, mac: Buffer, secret: string): boolean {
  const expected = Buffer.from(sign(body, secret), "utf8");
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}

function isPayload(value: unknown): value is CursorPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.v === 2 &&
    typeof v.i === "number" &&
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
