import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../shared/config.js";
import { keyRateLimiter, TokenBucketLimiter } from "../../../shared/http/rate-limit.js";

describe("TokenBucketLimiter", () => {
  it("allows a burst of 50, then 20 a second, per key (DESIGN.md defaults)", () => {
    let now = 0;
    const config = loadConfig({});
    const limiter = new TokenBucketLimiter({
      ratePerSecond: config.API_KEY_RATE_PER_SECOND,
      burst: config.API_KEY_BURST,
      now: () => now,
    });
    for (let i = 0; i < 50; i++) expect(limiter.take("k").allowed).toBe(true);
    const refused = limiter.take("k");
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("other").allowed).toBe(true);
    now += 1000;
    let allowed = 0;
    while (limiter.take("k").allowed) allowed++;
    expect(allowed).toBe(20);
  });

  it("keeps at most maxKeys buckets", () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 3, now: () => 0 });
    for (const key of ["a", "b", "c", "d"]) limiter.take(key);
    // "a" was dropped: it starts with a full bucket again.
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("d").allowed).toBe(false);
  });

  it("is rebuilt when the configured rate changes", () => {
    const first = keyRateLimiter({ API_KEY_RATE_PER_SECOND: 20, API_KEY_BURST: 50 });
    expect(keyRateLimiter({ API_KEY_RATE_PER_SECOND: 20, API_KEY_BURST: 50 })).toBe(first);
    expect(keyRateLimiter({ API_KEY_RATE_PER_SECOND: 5, API_KEY_BURST: 50 })).not.toBe(first);
  });
});
