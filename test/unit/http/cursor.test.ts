import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../shared/domain/errors.js";
import { CURSOR_TTL_MS, decodeCursor, encodeCursor, queryFingerprint } from "../../../shared/http/cursor.js";

const secret = "a-test-cursor-secret-of-enough-length";
const keys = { current: secret };
const pageKey = { PK: "T#tenant-a#I#slack", SK: "JOB#01J0000000000000000000000" };
const fingerprint = queryFingerprint({ op: "getSyncStatus", integrationId: "slack", dataType: "users" });
const binding = { tenantId: "tenant-a", fingerprint };

function expectInvalid(run: () => unknown, reason: RegExp) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("INVALID_REQUEST");
    expect((error as ValidationError).status).toBe(400);
    expect((error as ValidationError).message).toMatch(reason);
    return;
  }
  throw new Error("expected an invalid cursor to be rejected");
}

describe("cursors", () => {
  it("round-trips a page key for the same tenant and query", () => {
    const cursor = encodeCursor(pageKey, binding, keys);

    expect(decodeCursor(cursor, binding, keys)).toEqual(pageKey);
  });

  it("is opaque: the page key is not readable as plain text in the cursor", () => {
    expect(encodeCursor(pageKey, binding, keys)).not.toContain("T#tenant-a");
  });

  it("rejects a cursor issued to another tenant", () => {
    const cursor = encodeCursor(pageKey, binding, keys);

    expectInvalid(() => decodeCursor(cursor, { ...binding, tenantId: "tenant-b" }, keys), /another tenant/);
  });

  it("rejects a cursor issued for another query", () => {
    const cursor = encodeCursor(pageKey, binding, keys);
    const other = queryFingerprint({ op: "getSyncStatus", integrationId: "slack", dataType: "channels" });

    expectInvalid(() => decodeCursor(cursor, { ...binding, fingerprint: other }, keys), /another query/);
  });

  it("rejects a cursor whose payload was re-encoded with another page key", () => {
    const cursor = encodeCursor(pageKey, binding, keys);
    const [, mac] = cursor.split(".");
    const forged = Buffer.from(
      JSON.stringify({ v: 1, k: { PK: "T#tenant-b#I#slack", SK: "JOB#" }, t: "tenant-a", q: fingerprint }),
    ).toString("base64url");

    expectInvalid(() => decodeCursor(`${forged}.${mac}`, binding, keys), /signature/);
  });

  it("rejects a cursor signed with another secret", () => {
    const cursor = encodeCursor(pageKey, binding, { current: "another-secret-of-enough-length!" });

    expectInvalid(() => decodeCursor(cursor, binding, keys), /signature/);
  });

  describe("during a key rotation", () => {
    const oldKey = "the-previous-cursor-secret-0123";
    const rotated = { current: secret, previous: oldKey };

    it("accepts a cursor issued under the previous key", () => {
      const issuedBefore = encodeCursor(pageKey, binding, { current: oldKey });

      expect(decodeCursor(issuedBefore, binding, rotated)).toEqual(pageKey);
    });

    it("refuses a cursor signed with a key that is neither current nor previous", () => {
      const cursor = encodeCursor(pageKey, binding, { current: "an-unknown-cursor-secret-45678" });

      expectInvalid(() => decodeCursor(cursor, binding, rotated), /signature/);
    });

    it("refuses a previous-key cursor once the previous key is dropped", () => {
      const issuedBefore = encodeCursor(pageKey, binding, { current: oldKey });

      expectInvalid(() => decodeCursor(issuedBefore, binding, { current: secret }), /signature/);
    });

    it("signs new cursors with the current key only", () => {
      const cursor = encodeCursor(pageKey, binding, rotated);

      expect(decodeCursor(cursor, binding, { current: secret })).toEqual(pageKey);
      expectInvalid(() => decodeCursor(cursor, binding, { current: oldKey }), /signature/);
    });

    it("still binds a previous-key cursor to its tenant", () => {
      const issuedBefore = encodeCursor(pageKey, binding, { current: oldKey });

      expectInvalid(() => decodeCursor(issuedBefore, { ...binding, tenantId: "tenant-b" }, rotated), /another tenant/);
    });
  });

  it("rejects garbage without throwing anything but a ValidationError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (garbage) => {
        expectInvalid(() => decodeCursor(garbage, binding, keys), /Invalid cursor/);
      }),
    );
  });

  it("rejects every single-character change of a valid cursor", () => {
    // Many cursors (random IVs), so signatures ending in a character whose low bits base64url leaves unused are met.
    for (let n = 0; n < 50; n++) expectEveryChangeRejected(encodeCursor(pageKey, binding, keys));
  });

  function expectEveryChangeRejected(cursor: string): void {
    for (let i = 0; i < cursor.length; i++) {
      const ch = cursor[i] === "A" ? "B" : "A";
      const tampered = cursor.slice(0, i) + ch + cursor.slice(i + 1);
      if (tampered === cursor) continue;
      expect(() => decodeCursor(tampered, binding, keys)).toThrow(ValidationError);
    }
  }

  it("fingerprints queries independently of key order and undefined members", () => {
    expect(queryFingerprint({ a: 1, b: "x", c: undefined })).toBe(queryFingerprint({ b: "x", a: 1 }));
    expect(queryFingerprint({ a: 1 })).not.toBe(queryFingerprint({ a: 2 }));
  });
});

describe("cursor expiry and opacity", () => {
  it("answers CURSOR_EXPIRED (400) for a cursor older than 24 hours, and accepts it until then", () => {
    const issued = Date.parse("2026-11-30T00:00:00Z");
    const cursor = encodeCursor(pageKey, binding, keys, { now: issued });
    expect(decodeCursor(cursor, binding, keys, { now: issued + CURSOR_TTL_MS })).toEqual(pageKey);
    try {
      decodeCursor(cursor, binding, keys, { now: issued + CURSOR_TTL_MS + 1 });
      throw new Error("expected CURSOR_EXPIRED");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe("CURSOR_EXPIRED");
      expect((error as ValidationError).status).toBe(400);
    }
  });

  it("shows nothing of the page key, tenant or query: the payload is encrypted", () => {
    const cursor = encodeCursor(pageKey, binding, keys);
    const decoded = cursor
      .split(".")
      .map((part) => Buffer.from(part, "base64url").toString("latin1"))
      .join(" ");
    for (const plain of ["T#tenant-a", "JOB#01J", "tenant-a", fingerprint, '"PK"', '"k"']) {
      expect(decoded).not.toContain(plain);
    }
  });
});
