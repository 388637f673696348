/** A clock the reliability tests move by hand: leases expire, backoffs elapse and partitions come due without sleeping. */
import type { Clock } from "../../../shared/domain/clock.js";

export interface ManualClock extends Clock {
  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void;
  /** Jumps to `ms` if that is later than now. */
  advanceTo(ms: number): void;
}

/** A clock that starts at `start` (epoch ms) and only moves when told to. */
export function manualClock(start: number): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      if (ms > 0) t += ms;
    },
    advanceTo(ms) {
      if (ms > t) t = ms;
    },
  };
}

/** Real time plus an offset the test moves forward, so SQS's SentTimestamp and the clock stay comparable. */
export interface TestClock extends Clock {
  advance(ms: number): void;
  readonly offset: number;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
    get offset() {
      return offset;
    },
  };
}
