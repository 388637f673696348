/**
 * What the per-key rate limit costs per API request (shared/http/rate-limit.ts): one token-bucket `take` in memory,
 * timed over a million calls for one hot key and spread over 10,000 keys. For comparison, a DynamoDB conditional
 * write per request would cost a network round trip (milliseconds) and a write unit.
 */
import { TokenBucketLimiter } from "../../shared/http/rate-limit.js";
import type { BenchFigure } from "./figures.js";

const CALLS = 1_000_000;

function nsPerTake(keys: string[]): number {
  // A high rate: the bench measures the bookkeeping, not refusals.
  const limiter = new TokenBucketLimiter({ ratePerSecond: 1e9, burst: 1e9 });
  for (let i = 0; i < 10_000; i++) limiter.take(keys[i % keys.length] as string);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) limiter.take(keys[i % keys.length] as string);
  return Number(process.hrtime.bigint() - started) / CALLS;
}

export async function run(): Promise<BenchFigure[]> {
  const one = nsPerTake(["tenant-a:key-1"]);
  const many = nsPerTake(Array.from({ length: 10_000 }, (_, i) => `tenant-${i % 100}:key-${i}`));
  return [
    { key: "rateLimit.nsPerRequest1Key", value: Math.round(one), unit: "ns", target: "<= 5,000 ns", ok: one <= 5_000 },
    {
      key: "rateLimit.nsPerRequest10kKeys",
      value: Math.round(many),
      unit: "ns",
      target: "<= 5,000 ns",
      ok: many <= 5_000,
    },
  ];
}
