/**
 * The planner (DESIGN.md "Sync flow" 1): Query every due shard for partitions due by now, claim each on the exact
 * due-index key it was seen with (two planners never enqueue one partition twice), write its job `pending`, and send
 * the messages in tens. It stops before its deadline and leaves the rest for the next run; it never Scans, so its
 * reads grow with the number of due partitions, not with the number of partitions.
 *
 * Its reads are the due entries, plus one job read per partition taken over from a dead job; sources are the
 * worker's business (see `readSources`).
 *
 * A due `queued` or `syncing` partition is one whose message was lost or whose worker died. If its job has a
 * checkpoint it is resumed (same job, continuation message); otherwise the old job is failed and a new one takes over,
 * marked `reconcile` because the dead job may have written rows it never committed.
 */
import type { Clock } from "../domain/clock.js";
import { iso } from "../domain/clock.js";
import { JOB_ERROR } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { Source } from "../domain/source-config.js";
import type { QueueMessage, SyncMessage } from "../domain/sync-message.js";
import { ulid } from "../domain/ulid.js";
import { claimPurge } from "../lifecycle/purge.js";
import type { Logger } from "../log.js";
import { METRIC, type ServiceMetrics } from "../metrics.js";
import type { DueEntry, PageKey, Repositories } from "../storage/ports.js";
import { TABLE_DEFINITION } from "../storage/table.js";
import { type ClaimRequest, claimPartition } from "./claims.js";
import { MAX_DELAY_SECONDS, REQUEUE_WINDOW_MS } from "./durations.js";
import { decideMode } from "./mode.js";
import type { SyncQueue } from "./sync-queue.js";

export interface PlannerOptions {
  /** How long a claimed partition waits for its message before the due index brings it back. */
  requeueWindowMs: number;
  /** Due entries per Query. */
  pageLimit: number;
  /** A job that already ran this many invocations is not resumed again; a new job starts over. */
  maxResumeInvocations: number;
  /** Partitions planned at once. */
  concurrency: number;
  /**
   * Read each due partition's source (cached per run): pause partitions whose source is gone, and decide the job's
   * mode and action up front. Off by default: it adds one read per distinct source to every run, which can exceed the
   * due entries themselves, and the worker makes the same checks with fresher data when the sync starts (it pauses a
   * deleted-source or revoked-connection partition and fixes the job's mode and action). Without it a pending job
   * shows mode "full" until its worker starts.
   */
  readSources: boolean;
  /**
   * Backpressure: with this many messages visible on the queue, the run claims nothing, and below it at most the
   * difference. A claimed partition whose message waits past the requeue window is taken over (a duplicate message and
   * a failed job), so a backlog must stay where claims wait, in the due index, and not pile up on the queue.
   */
  maxQueueDepth: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  requeueWindowMs: REQUEUE_WINDOW_MS,
  pageLimit: 100,
  maxResumeInvocations: 50,
  concurrency: 8,
  readSources: false,
  maxQueueDepth: 5_000,
};

export interface PlannerDeps {
  repos: Repositories;
  queue: SyncQueue;
  clock: Clock;
  log: Logger;
  options?: Partial<PlannerOptions>;
  /** The queue's visible messages (ApproximateNumberOfMessages); without it there is no backpressure. */
  queueDepth?: () => Promise<number>;
}

export interface PlanInput {
  /** The planning time: partitions due at or before it are enqueued. */
  now: number;
  /** Epoch ms: no new claim starts after it. */
  deadline: number;
  /** At most this many claims in this run. */
  maxPartitions?: number;
  /**
   * Also take `queued` partitions whose requeue deadline is still ahead (the local stack at start: fauxqs keeps no
   * messages across restarts, so every queued partition has lost its message).
   */
  reclaimQueued?: boolean;
}

export interface PlannerSummary {
  /** Due entries looked at. */
  due: number;
  /** Partitions this run claimed (new jobs, resumed jobs and take-overs). */
  claimed: number;
  /** Messages accepted by the queue. */
  enqueued: number;
  /** Messages the queue did not accept (their partitions come back at the requeue deadline) and entries that errored. */
  failed: number;
  /** Due entries not claimed: another planner got them first, or the deadline or maxPartitions was reached. */
  skipped: number;
  /** Partitions paused because their source is gone or no longer syncable. */
  paused: number;
  /** Claims that resumed a job from its checkpoint. */
  resumed: number;
  /** Claims that took over from a job whose lease expired or whose message was lost. */
  takenOver: number;
  /** How late the most overdue partition looked at was (0 when none was due). */
  oldestOverdueSeconds: number;
  sendBatchCalls: number;
  /** True when the deadline or maxPartitions stopped the run before every due entry was handled. */
  stoppedEarly: boolean;
  /** Visible messages on the queue when the run started (0 when unknown). */
  queueDepth: number;
  /** True when the queue's depth limited this run's claims. */
  backpressure: boolean;
}

/** The longest SQS delay a continuation can carry: a queued partition's deadline is at most this beyond the window. */
const MAX_CONTINUATION_DELAY_MS = MAX_DELAY_SECONDS * 1000;

/** Runs one planning pass. Never throws for one bad partition: it is counted in `failed` and logged. */
export async function runPlanner(deps: PlannerDeps, input: PlanInput): Promise<PlannerSummary> {
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...deps.options };
  const { repos, clock, log } = deps;
  const summary: PlannerSummary = {
    due: 0,
    claimed: 0,
    enqueued: 0,
    failed: 0,
    skipped: 0,
    paused: 0,
    resumed: 0,
    takenOver: 0,
    oldestOverdueSeconds: 0,
    sendBatchCalls: 0,
    stoppedEarly: false,
    queueDepth: 0,
    backpressure: false,
  };
  const nowIso = iso(input.now);
  const until = input.reclaimQueued
    ? iso(input.now + options.requeueWindowMs + MAX_CONTINUATION_DELAY_MS + 60_000)
    : nowIso;
  let maxPartitions = input.maxPartitions ?? Number.POSITIVE_INFINITY;
  const room = await queueRoom(deps, options, summary);
  if (room < maxPartitions) {
    maxPartitions = room;
    summary.backpressure = true;
  }
  const sources = new Map<string, Promise<Source | undefined>>();
  const outbox: QueueMessage[] = [];

  const flush = async (all: boolean) => {
    while (outbox.length >= 10 || (all && outbox.length > 0)) {
      const batch = outbox.splice(0, 10);
      const result = await deps.queue.send(batch);
      summary.sendBatchCalls += result.sendBatchCalls;
      summary.enqueued += batch.length - result.failed.length;
      summary.failed += result.failed.length;
      if (result.failed.length > 0) {
        log.warn("planner could not enqueue some partitions; they come back at their requeue deadline", {
          count: result.failed.length,
        });
      }
    }
  };

  const sourceOf = (ref: PartitionRef): Promise<Source | undefined> => {
    const key = `${ref.tenantId}\u0000${ref.integrationId}\u0000${ref.dataType}`;
    let source = sources.get(key);
    if (!source) {
      source = repos.sources.get(ref.tenantId, ref.integrationId, ref.dataType);
      sources.set(key, source);
    }
    return source;
  };

  /** Plans one due entry; true when it claimed the partition. */
  const handle = async (entry: DueEntry): Promise<boolean> => {
    const { ref } = entry;
    const now = clock.now();
    const requeueDeadline = now + options.requeueWindowMs;
    // A paused partition is in the due index only when its purge is due (shared/lifecycle/purge.ts).
    if (entry.status === "paused") {
      const purge = await claimPurge(repos, entry, requeueDeadline);
      if (purge) outbox.push(purge);
      return purge !== undefined;
    }
    // `null`: not looked up (the worker checks the source and decides the mode when it starts).
    const source = options.readSources ? await sourceOf(ref) : null;
    const inFlight = entry.status === "queued" || entry.status === "syncing";
    const oldJob =
      inFlight && entry.currentJobId
        ? await repos.jobs.get(ref.tenantId, ref.integrationId, entry.currentJobId)
        : undefined;

    if (source !== null && !source?.referenceData.syncable) {
      await repos.partitions.pause(ref, "source_deleted", now);
      if (oldJob) {
        await repos.jobs.failIfOpen(
          oldJob.tenantId,
          oldJob.integrationId,
          oldJob.jobId,
          { code: JOB_ERROR.sourceNotFound, message: "the source was deleted", retryable: true },
          clock.now(),
        );
      }
      summary.paused++;
      return false;
    }

    if (
      oldJob?.status === "syncing" &&
      oldJob.checkpoint !== undefined &&
      oldJob.invocations < options.maxResumeInvocations
    ) {
      if (!(await claim(ref, { jobId: oldJob.jobId, now, requeueDeadline, expectedDueSk: entry.dueSk }))) return false;
      outbox.push({
        v: 1,
        kind: "sync",
        ...refFields(ref),
        trigger: oldJob.trigger,
        jobId: oldJob.jobId,
        continuation: { page: oldJob.checkpoint.page },
      });
      summary.resumed++;
      return true;
    }

    const jobId = ulid(now);
    const claimed = await claim(ref, {
      jobId,
      now,
      requeueDeadline,
      expectedDueSk: entry.dueSk,
      ...(oldJob ? { previousJob: oldJob } : {}),
    });
    if (!claimed) return false;
    const { partition } = claimed;
    const message: SyncMessage = { v: 1, kind: "sync", ...refFields(ref), trigger: "schedule", jobId };
    if (claimed.takenOverJobId !== undefined) summary.takenOver++;
    if (claimed.reconcile) message.reconcile = true;
    try {
      await repos.jobs.create({
        ref,
        jobId,
        trigger: "schedule",
        mode: source ? decideMode(source.referenceData, partition, undefined, now) : "full",
        ...(source ? { actionSlug: source.actionSlug } : {}),
        now,
      });
    } catch (error) {
      // The worker adopts a job the partition points at but that was never written.
      log.warn("planner could not create a job; the worker will", { jobId, error });
    }
    outbox.push(message);
    await flush(false);
    return true;
  };

  /** Claims on the exact due key the entry was seen with; undefined (counted as skipped) when it lost. */
  const claim = async (ref: PartitionRef, request: ClaimRequest) => {
    const claimed = await claimPartition(deps, ref, request);
    if (!claimed.claimed) {
      summary.skipped++;
      return undefined;
    }
    summary.claimed++;
    return claimed;
  };

  // Round-robin over the shards, one page each per round, so a backlog in one shard does not starve the others.
  const cursors = new Map<number, PageKey | undefined>();
  for (let shard = 0; shard < TABLE_DEFINITION.dueShards; shard++) cursors.set(shard, undefined);
  let unseen = 0;
  /** Claims made or under way, so concurrent handlers never overshoot maxPartitions. */
  let reserved = 0;
  const outOfBudget = () => clock.now() >= input.deadline || reserved >= maxPartitions;
  outer: while (cursors.size > 0) {
    for (const [shard, startKey] of [...cursors]) {
      if (outOfBudget()) {
        summary.stoppedEarly = true;
        break outer;
      }
      const page = await repos.partitions.queryDue(shard, until, {
        limit: options.pageLimit,
        ...(startKey === undefined ? {} : { startKey }),
      });
      if (page.nextKey) cursors.set(shard, page.nextKey);
      else cursors.delete(shard);
      const entries = page.items.filter((entry) => entry.dueAt <= nowIso || entry.status === "queued");
      let next = 0;
      let stopped = false;
      const worker = async () => {
        while (next < entries.length) {
          if (outOfBudget()) {
            stopped = true;
            return;
          }
          const entry = entries[next++] as DueEntry;
          summary.due++;
          const overdue = Math.max(0, Math.floor((input.now - Date.parse(entry.dueAt)) / 1000));
          if (overdue > summary.oldestOverdueSeconds) summary.oldestOverdueSeconds = overdue;
          reserved++;
          let claimed = false;
          try {
            claimed = await handle(entry);
          } catch (error) {
            summary.failed++;
            log.error("planner could not plan a partition", { ref: entry.ref, error });
          }
          if (!claimed) reserved--;
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, entries.length) }, worker));
      if (stopped) {
        summary.stoppedEarly = true;
        unseen += entries.length - next;
        break outer;
      }
    }
  }
  await flush(true);
  summary.skipped += unseen;
  log.info("planner run", { ...summary });
  return summary;
}

/** How many claims the queue has room for (infinite without a depth port, or when the depth cannot be read). */
async function queueRoom(deps: PlannerDeps, options: PlannerOptions, summary: PlannerSummary): Promise<number> {
  if (!deps.queueDepth) return Number.POSITIVE_INFINITY;
  try {
    summary.queueDepth = await deps.queueDepth();
  } catch (error) {
    deps.log.warn("could not read the queue depth; planning without backpressure", { error });
    return Number.POSITIVE_INFINITY;
  }
  return Math.max(0, options.maxQueueDepth - summary.queueDepth);
}

function refFields(ref: PartitionRef): PartitionRef {
  return {
    tenantId: ref.tenantId,
    integrationId: ref.integrationId,
    connectionId: ref.connectionId,
    dataType: ref.dataType,
  };
}

/** The run's gauges as metrics: staleness (the staleness alarm), due, enqueued, failures, take-overs, queue depth. */
export function recordPlannerMetrics(metrics: ServiceMetrics, summary: PlannerSummary): void {
  metrics.gauge(METRIC.staleness, summary.oldestOverdueSeconds, "Seconds");
  metrics.gauge(METRIC.duePartitions, summary.due);
  metrics.gauge(METRIC.enqueuedPartitions, summary.enqueued);
  metrics.gauge(METRIC.plannerFailures, summary.failed);
  metrics.gauge(METRIC.takeOvers, summary.takenOver);
  metrics.gauge(METRIC.queueDepth, summary.queueDepth);
  metrics.gauge(METRIC.backpressure, summary.backpressure ? 1 : 0);
  for (let paused = 0; paused < summary.paused; paused++) metrics.partitionPaused("source_deleted");
}
