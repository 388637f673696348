/**
 * The sync engine's vocabulary, shared by its parts: options (defaults from ./durations.ts), dependencies, test hooks,
 * the invocation a sync runs in, and the outcome of one message.
 *
 * The parts: `runSync` (./run-sync.ts) takes one sync message to a leased partition and its job; a `SyncSession`
 * (./session.ts) is one invocation's work on that lease (start, checkpoint and hand over, commit, failure); the session
 * runs a list sync (./list-sync.ts) or an object sync (./object-sync.ts). Jobs left behind by crashes are settled by
 * ./settle-jobs.ts, and claiming a partition for a job is ./claims.ts.
 *
 * What happens to a job, in these words only: it is *claimed* (a partition taken for a new job id, `claimPartition`)
 * and written, or *adopted* (written by the worker under the id its claim chose); a session *starts* it, then either
 * *suspends* it (checkpoint, then *hands over* the lease to a continuation), *commits* it, or *fails* it
 * (`failSession`). A job someone else left open is *failed if open* (`jobs.failIfOpen`: superseded, paused) or
 * *settled* from what its partition recorded (`settleOrphanedJob`, `settlePreviousJob`).
 */
import type { Clock } from "../domain/clock.js";
import type { JobError, PauseReason } from "../domain/entities.js";
import type { EventPublisher } from "../events/events.js";
import type { GatewayClient } from "../gateway/client.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";
import type { AnnounceDeps } from "./announce.js";
import { HEARTBEAT_MS, LEASE_MS, REQUEUE_WINDOW_MS, TIME_MARGIN_MS } from "./durations.js";
import { INCREMENTAL_SKEW_MS } from "./mode.js";
import type { SyncQueue } from "./sync-queue.js";

export interface SyncEngineOptions {
  /** Lease length; renewed every `heartbeatMs`. */
  leaseMs: number;
  heartbeatMs: number;
  /** Stop paging and checkpoint when the invocation has less than this left. */
  timeMarginMs: number;
  /** How long a requeued (continuing) partition may wait for its message before the due index brings it back. */
  requeueWindowMs: number;
  incrementalSkewMs: number;
  /** Changed items buffered before a BatchWriteItem round (full batches of 25 only, the rest waits). */
  writeBufferItems: number;
  /** Soft deletes per setStatus call between time checks. */
  deactivateChunk: number;
  /** A job that needed this many invocations is failed instead of continued (a poison page, an endless source). */
  maxInvocations: number;
  /** Lifecycle: staged changes and commit rows expire after this many days; inactive/deleted items after the other. */
  changeRetentionDays: number;
  inactiveRetentionDays: number;
  random: () => number;
}

export const DEFAULT_SYNC_OPTIONS: SyncEngineOptions = {
  leaseMs: LEASE_MS,
  heartbeatMs: HEARTBEAT_MS,
  timeMarginMs: TIME_MARGIN_MS,
  requeueWindowMs: REQUEUE_WINDOW_MS,
  incrementalSkewMs: INCREMENTAL_SKEW_MS,
  writeBufferItems: 250,
  deactivateChunk: 500,
  maxInvocations: 200,
  changeRetentionDays: 30,
  inactiveRetentionDays: 30,
  random: Math.random,
};

/** Test seams. Production passes none. */
export interface SyncHooks {
  /** After each page is processed (its changed items buffered or written). Throw SimulatedCrash to "kill" the worker. */
  afterPage?(info: { jobId: string; page: number; invocationId: string }): void | Promise<void>;
}

/** Thrown by a test hook: the invocation dies on the spot, as if the process were killed (no cleanup of any kind). */
export class SimulatedCrash extends Error {
  constructor(message = "simulated crash") {
    super(message);
    this.name = "SimulatedCrash";
  }
}

export interface SyncEngineDeps {
  repos: Repositories;
  gateway: GatewayClient;
  /** Continuation messages. */
  queue: SyncQueue;
  clock: Clock;
  log: Logger;
  /** Where job events go after the commit (default: nowhere). */
  events?: EventPublisher;
  options?: Partial<SyncEngineOptions>;
  hooks?: SyncHooks;
}

/** The announce step's dependencies (shared/sync/announce.ts). */
export function announceDeps(deps: SyncEngineDeps): AnnounceDeps {
  return {
    repos: deps.repos,
    events: deps.events,
    clock: deps.clock,
    changeRetentionDays: deps.options?.changeRetentionDays ?? DEFAULT_SYNC_OPTIONS.changeRetentionDays,
  };
}

/** The Lambda invocation a sync runs in. */
export interface InvocationContext {
  /** Milliseconds left (context.getRemainingTimeInMillis()). */
  remainingMs(): number;
  /** Unique per invocation: the lease owner. */
  invocationId: string;
}

export interface JobCounts {
  itemsFound: number;
  itemsCreated: number;
  itemsUpdated: number;
  itemsDeleted: number;
  itemsFailed: number;
  itemsDuplicate: number;
}

export type SyncOutcome =
  | { status: "completed"; jobId: string; counts: JobCounts; warnings: string[]; itemWrites: number }
  /** Item rows this invocation wrote before handing over. */
  | { status: "continued"; jobId: string; page: number; delaySeconds: number; itemWrites: number }
  | { status: "failed"; jobId: string; error: JobError; paused?: PauseReason }
  | { status: "skipped"; reason: string; jobId?: string }
  /** A valid message that can never be processed (no such partition): the caller dead-letters it. */
  | { status: "rejected"; reason: string };
