import { describe, expect, it } from "vitest";
import { ulid, ulidTime } from "../../../shared/domain/ulid.js";

describe("ulid", () => {
  it("encodes the creation time and sorts by it", () => {
    const a = ulid(1_700_000_000_000);
    const b = ulid(1_700_000_000_001);
    expect(ulidTime(a)).toBe(1_700_000_000_000);
    expect(a < b).toBe(true);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("stays monotonic within one millisecond", () => {
    const ids = Array.from({ length: 100 }, () => ulid(1_700_000_000_500));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(100);
  });
});
