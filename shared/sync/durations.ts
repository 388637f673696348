/**
 * The sync engine's named durations (DESIGN.md "Sync flow" defaults), in one place: the engine's and the planner's
 * defaults read them, and tests advance their clocks by them, never by a copied number. A different lease is a change
 * here (CONTRIBUTING.md "A different lease").
 */

/** A worker's lease on a partition; a dead worker's partition comes back through the due index after it. */
export const LEASE_MS = 120_000;
/** How often a running sync renews its lease (a third of it, so two missed beats still leave it held). */
export const HEARTBEAT_MS = 40_000;
/** A lease this close to expiry counts as lost (at most this, and at most a quarter of the lease). */
export const LEASE_SAFETY_MAX_MS = 10_000;
/** How long a claimed (`queued`) partition waits for its message before the due index brings it back. */
export const REQUEUE_WINDOW_MS = 15 * 60_000;
/** Stop paging and checkpoint when the invocation has less than this left. */
export const TIME_MARGIN_MS = 30_000;
/** Manual triggers of one partition at most this often. */
export const MANUAL_MIN_INTERVAL_MS = 60_000;
/** A job handed over after a transient failure waits this long (throttling needs a moment to pass). */
export const TRANSIENT_RETRY_DELAY_SECONDS = 10;
/** Base of the retry backoff after a failed sync: 60 s × 2^failures, capped at the TTL. */
export const RETRY_BASE_MS = 60_000;
/** SQS's DelaySeconds ceiling: a continuation waits at most this long. */
export const MAX_DELAY_SECONDS = 900;

/** The lease safety margin for a lease of `leaseMs`. */
export function leaseSafetyMs(leaseMs: number): number {
  return Math.min(LEASE_SAFETY_MAX_MS, leaseMs / 4);
}
