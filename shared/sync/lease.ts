/**
 * The partition lease of a running sync: renewed on a heartbeat, and checked before every write, so a worker that lost
 * it (another worker took over after it stalled) stops without writing state.
 */
import type { Clock } from "../domain/clock.js";
import { ConflictError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { Logger } from "../log.js";
import type { PartitionRepository } from "../storage/ports.js";

/** The lease is gone (taken over, or expired without renewal): the sync must stop without writing anything more. */
export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaseLostError";
  }
}

export interface LeaseOptions {
  jobId: string;
  owner: string;
  leaseMs: number;
  heartbeatMs: number;
  /** A lease this close to expiry is treated as lost: a write might land after another worker took over. */
  safetyMs: number;
  clock: Clock;
  log: Logger;
}

export interface Lease {
  /** Throws LeaseLostError unless the lease is held with at least `safetyMs` to spare. */
  assertHeld(): void;
  /** Renews now; throws LeaseLostError when the lease was lost. */
  renew(): Promise<void>;
  /** Stops the heartbeat and waits for a renewal in flight. */
  stop(): Promise<void>;
  readonly lost: boolean;
}

/** Starts the heartbeat of a lease acquired at `acquiredAt` (epoch ms). */
export function holdLease(
  partitions: Pick<PartitionRepository, "renewLease">,
  ref: PartitionRef,
  acquiredAt: number,
  options: LeaseOptions,
): Lease {
  let expiresAt = acquiredAt + options.leaseMs;
  let lost = false;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const renewOnce = async (): Promise<void> => {
    const now = options.clock.now();
    try {
      await partitions.renewLease(ref, { jobId: options.jobId, owner: options.owner, now, leaseMs: options.leaseMs });
      expiresAt = now + options.leaseMs;
    } catch (error) {
      if (error instanceof ConflictError) {
        lost = true;
        return;
      }
      // A failed renewal is not a lost lease yet: the next beat retries; assertHeld stops writes once it runs out.
      options.log.warn("lease renewal failed", { jobId: options.jobId, error });
    }
  };

  const beat = () => {
    if (stopped || lost || inFlight) return;
    inFlight = renewOnce().finally(() => {
      inFlight = undefined;
    });
  };
  const timer = setInterval(beat, options.heartbeatMs);
  timer.unref?.();

  return {
    get lost() {
      return lost;
    },
    assertHeld() {
      if (lost) throw new LeaseLostError(`the lease of job ${options.jobId} was taken over`);
      if (options.clock.now() >= expiresAt - options.safetyMs) {
        throw new LeaseLostError(`the lease of job ${options.jobId} expired without renewal`);
      }
    },
    async renew() {
      if (inFlight) await inFlight;
      await renewOnce();
      if (lost) throw new LeaseLostError(`the lease of job ${options.jobId} was taken over`);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (inFlight) await inFlight;
    },
  };
}
