/**
 * The per-API-key rate limit (DESIGN.md "quotas": 20 requests per second, burst 50, then 429 with Retry-After): a
 * token bucket per key, in the memory of the API function.
 *
 * Why in memory and not in DynamoDB: a conditional write per request would add a network round trip (5-10 ms) and a
 * write unit to every read, doubling the cost of the API's cheapest calls. A bucket here costs well under a
 * microsecond (`npm run bench -- ratelimit`). The price is that each warm Lambda instance keeps its own buckets, so a
 * key spread over N concurrent instances can reach N times the rate; the stage-wide throttle of API Gateway bounds
 * the total, and a single instance (the local stack, a quiet deployment) enforces the limit exactly.
 */
import type { Config } from "../config.js";

export interface RateLimitOptions {
  ratePerSecond: number;
  burst: number;
  /** Buckets kept (least recently used dropped first): memory stays bounded whatever keys arrive. */
  maxKeys?: number;
  /** Milliseconds, monotonic. */
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by key: `burst` tokens, refilled at `ratePerSecond`; a request takes one. */
export class TokenBucketLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.maxKeys = options.maxKeys ?? 50_000;
    this.now = options.now ?? (() => performance.now());
  }

  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key);
    let tokens = this.burst;
    if (bucket) {
      tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
      this.buckets.delete(key);
    } else if (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return { allowed: true };
    }
    this.buckets.set(key, { tokens, at: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond)) };
  }
}

let shared: TokenBucketLimiter | undefined;

/** The process-wide limiter of the API functions, rebuilt when the configured rate or burst changes. */
export function keyRateLimiter(config: Pick<Config, "API_KEY_RATE_PER_SECOND" | "API_KEY_BURST">): TokenBucketLimiter {
  if (!shared || shared.ratePerSecond !== config.API_KEY_RATE_PER_SECOND || shared.burst !== config.API_KEY_BURST) {
    shared = new TokenBucketLimiter({ ratePerSecond: config.API_KEY_RATE_PER_SECOND, burst: config.API_KEY_BURST });
  }
  return shared;
}

/** Forgets every bucket (tests). */
export function resetKeyRateLimiter(): void {
  shared = undefined;
}
