/**
 * The 250,000-partition day (10,000 tenants × 5 connections × 5 data types, daily TTL), simulated in virtual time:
 * the real planner (shared/sync/plan.ts, with its backpressure) runs every 5 minutes over an in-memory due index with
 * the repository's claim semantics; a model of SQS and of the worker (50 concurrent invocations, batches of 2
 * processed concurrently, sync durations mostly seconds with a long tail) consumes the queue. At 06:00, 25,000
 * partitions fall due at once (a fleet onboarding, or the planner back after an outage), so the backlog path runs too.
 *
 * Figures: take-overs (a claimed partition whose message waited past the requeue window, target 0), the queue's
 * largest visible depth, the planner's longest run (modelled DynamoDB/SQS latencies: a Query 10 ms, a claim or job
 * write 8 ms each, 8 at a time, SendMessageBatch 20 ms), the worst staleness, the syncs one stage sustains, and the
 * same day without backpressure for comparison.
 */

import { mulberry32 } from "../../infra/local/sample-gateway/index.js";
import { iso } from "../../shared/domain/clock.js";
import type { Job, Partition } from "../../shared/domain/entities.js";
import { ConflictError } from "../../shared/domain/errors.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import type { QueueMessage, SyncMessage } from "../../shared/domain/sync-message.js";
import { createLogger } from "../../shared/log.js";
import { dueShard } from "../../shared/storage/keys.js";
import type { ClaimInput, DueEntry, NewJob, PageKey, Repositories } from "../../shared/storage/ports.js";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";
import { DEFAULT_PLANNER_OPTIONS, runPlanner } from "../../shared/sync/plan.js";
import type { SyncQueue } from "../../shared/sync/sync-queue.js";
import type { BenchFigure } from "./figures.js";

const TENANTS = 10_000;
const CONNECTIONS = 5;
const DATA_TYPES = ["users", "channels", "groups", "repos", "labels"];
const PARTITIONS = TENANTS * CONNECTIONS * DATA_TYPES.length;
const DAY_MS = 86_400_000;
const TTL_MS = DAY_MS;
const SCHEDULE_MS = 5 * 60_000;
const BACKLOG_AT_MS = 6 * 3_600_000;
const BACKLOG = 25_000;
const WORKER_CONCURRENCY = 50;
const BATCH_SIZE = 2;
/** The planner Lambda's budget: 60 s less its 10 s margin. */
const PLANNER_BUDGET_MS = 50_000;
const LATENCY = { query: 10, write: 8, sendBatch: 20 };

const log = createLogger({}, "silent");

interface Row {
  ref: PartitionRef;
  shard: number;
  status: Partition["status"];
  dueSk: string;
  dueAt: string;
  currentJobId?: string;
}

/**
 * One due shard: due keys bucketed by minute, buckets in time order, so a page costs the due entries, not the shard.
 * A due key starts with its 24-character ISO time.
 */
class Shard {
  private readonly buckets = new Map<number, Set<string>>();
  private readonly minutes: number[] = [];
  insert(sk: string): void {
    const minute = minuteOf(sk);
    let bucket = this.buckets.get(minute);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(minute, bucket);
      this.minutes.splice(lowerBound(this.minutes, minute), 0, minute);
    }
    bucket.add(sk);
  }
  remove(sk: string): void {
    const minute = minuteOf(sk);
    const bucket = this.buckets.get(minute);
    if (!bucket?.delete(sk) || bucket.size > 0) return;
    this.buckets.delete(minute);
    this.minutes.splice(lowerBound(this.minutes, minute), 1);
  }
  /** Due keys <= untilIso after `afterSk`, oldest first, at most `limit`. */
  page(untilIso: string, limit: number, afterSk: string | undefined): string[] {
    const last = minuteOf(untilIso);
    const found: string[] = [];
    const from = afterSk === undefined ? 0 : lowerBound(this.minutes, minuteOf(afterSk));
    for (let i = from; i < this.minutes.length && (this.minutes[i] as number) <= last; i++) {
      const keys = [...(this.buckets.get(this.minutes[i] as number) as Set<string>)].sort();
      for (const sk of keys) {
        if (afterSk !== undefined && sk <= afterSk) continue;
        if (sk.slice(0, untilIso.length) > untilIso) return found;
        found.push(sk);
        if (found.length === limit) return found;
      }
    }
    return found;
  }
}

const minuteOf = (skOrIso: string) => Math.floor(Date.parse(skOrIso.slice(0, 24)) / 60_000);

function lowerBound(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((sorted[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The due index and partition rows, with the real repository's claim condition (the exact due key). */
class Store {
  readonly rows = new Map<string, Row>();
  readonly bySk = new Map<string, string>();
  readonly shards = Array.from({ length: TABLE_DEFINITION.dueShards }, () => new Shard());
  readonly jobs = new Map<string, Job>();
  /** Virtual ms spent in storage calls, divided by the planner's concurrency. */
  spentMs = 0;

  add(ref: PartitionRef, dueAt: number): void {
    const key = keyOf(ref);
    this.rows.set(key, { ref, shard: dueShard(ref), status: "idle", dueSk: "", dueAt: "" });
    this.setDue(key, dueAt, "idle");
  }

  setDue(key: string, dueAt: number | undefined, status: Row["status"], jobId?: string): void {
    const row = this.rows.get(key) as Row;
    if (row.dueSk) {
      this.shards[row.shard]?.remove(row.dueSk);
      this.bySk.delete(row.dueSk);
    }
    row.status = status;
    row.currentJobId = jobId;
    if (dueAt === undefined) {
      row.dueSk = "";
      row.dueAt = "";
      return;
    }
    row.dueAt = iso(dueAt);
    row.dueSk = `${row.dueAt}#${key}`;
    this.shards[row.shard]?.insert(row.dueSk);
    this.bySk.set(row.dueSk, key);
  }

  repositories(concurrency: number): Repositories {
    const cost = (ms: number) => {
      this.spentMs += ms / concurrency;
    };
    const partitions = {
      queryDue: async (shard: number, untilIso: string, page: { limit: number; startKey?: PageKey }) => {
        cost(LATENCY.query * concurrency);
        const keys = (this.shards[shard] as Shard).page(untilIso, page.limit, page.startKey?.sk as string | undefined);
        const items: DueEntry[] = keys.map((sk) => {
          const row = this.rows.get(this.bySk.get(sk) as string) as Row;
          return {
            ref: row.ref,
            status: row.status,
            dueSk: row.dueSk,
            dueAt: row.dueAt,
            ...(row.currentJobId ? { currentJobId: row.currentJobId } : {}),
          };
        });
        const last = items[items.length - 1];
        return items.length === page.limit && last ? { items, nextKey: { sk: last.dueSk } } : { items };
      },
      claim: async (ref: PartitionRef, input: ClaimInput) => {
        cost(LATENCY.write);
        const key = keyOf(ref);
        const row = this.rows.get(key);
        if (!row || row.dueSk !== input.expectedDueSk) throw new ConflictError("not claimable");
        this.setDue(key, input.requeueDeadline, "queued", input.jobId);
        return { ...ref, status: "queued", version: 1 } as Partition;
      },
      pause: async () => {},
    };
    const jobs = {
      create: async (job: NewJob) => {
        cost(LATENCY.write);
        const created = { ...job.ref, jobId: job.jobId, status: "pending", invocations: 0 } as unknown as Job;
        this.jobs.set(job.jobId, created);
        return created;
      },
      get: async (_t: string, _i: string, jobId: string) => {
        cost(LATENCY.write);
        return this.jobs.get(jobId);
      },
      update: async (_t: string, _i: string, jobId: string, patch: Partial<Job>) => {
        cost(LATENCY.write);
        const job = { ...(this.jobs.get(jobId) as Job), ...patch };
        this.jobs.set(jobId, job);
        return job;
      },
    };
    return { partitions, jobs } as unknown as Repositories;
  }
}

const keyOf = (ref: PartitionRef) => `${ref.tenantId}#${ref.integrationId}#${ref.connectionId}#${ref.dataType}`;

export interface DayResult {
  takeOvers: number;
  maxQueueDepth: number;
  plannerMaxMs: number;
  plannerCpuMaxMs: number;
  maxStalenessSeconds: number;
  syncs: number;
  /** Partitions due before the day's last 15 minutes: each must have synced by the end of the day. */
  dueBeforeCutoff: number;
  duplicates: number;
  peakSyncsPerSecond: number;
  backlogDrainedMinutes: number;
}

/** One simulated day; `maxQueueDepth` undefined turns the planner's backpressure off. */
export async function simulateDay(options: { maxQueueDepth?: number; seed?: number } = {}): Promise<DayResult> {
  const random = mulberry32(options.seed ?? 12);
  const start = Date.parse("2026-01-05T00:00:00Z");
  let now = start;
  const clock = { now: () => now };
  const store = new Store();
  let cutoff = 0;
  for (let t = 0; t < TENANTS; t++) {
    for (let c = 0; c < CONNECTIONS; c++) {
      for (const dataType of DATA_TYPES) {
        const ref = { tenantId: `t${t}`, integrationId: "slack", connectionId: `c${c}`, dataType };
        // Steady state: due times spread over the day, the backlog's share at 06:00 sharp.
        const backlog = (t * CONNECTIONS + c) * DATA_TYPES.length < BACKLOG;
        const dueAt = backlog ? start + BACKLOG_AT_MS : start + Math.floor(random() * DAY_MS);
        store.add(ref, dueAt);
        if (dueAt < start + DAY_MS - 15 * 60_000) cutoff++;
      }
    }
  }

  // SQS: visible messages in send order; received ones are in flight until their invocation ends.
  // A head index instead of shift(): the queue can hold tens of thousands of messages.
  const visible: SyncMessage[] = [];
  let head = 0;
  const depth = () => visible.length - head;
  const queue: SyncQueue = {
    async send(messages: QueueMessage[]) {
      store.spentMs += LATENCY.sendBatch;
      visible.push(...(messages as SyncMessage[]));
      return { failed: [], sendBatchCalls: 1 };
    },
  };
  const concurrency = DEFAULT_PLANNER_OPTIONS.concurrency;
  const repos = store.repositories(concurrency);
  const result: DayResult = {
    takeOvers: 0,
    maxQueueDepth: 0,
    plannerMaxMs: 0,
    plannerCpuMaxMs: 0,
    maxStalenessSeconds: 0,
    syncs: 0,
    dueBeforeCutoff: 0,
    duplicates: 0,
    peakSyncsPerSecond: 0,
    backlogDrainedMinutes: 0,
  };
  const invocations: { endsAt: number; messages: SyncMessage[] }[] = [];
  const duration = () => {
    const roll = random();
    if (roll < 0.8) return 1_000 + random() * 3_000;
    if (roll < 0.98) return 5_000 + random() * 15_000;
    return 30_000 + random() * 90_000;
  };
  const completedPerMinute = new Map<number, number>();
  const backlogKeys = new Set<string>();
  for (const [key, row] of store.rows) if (row.dueAt === iso(start + BACKLOG_AT_MS)) backlogKeys.add(key);
  let backlogLeft = backlogKeys.size;

  const finish = (message: SyncMessage) => {
    const key = keyOf(message);
    const row = store.rows.get(key) as Row;
    if (row.currentJobId !== message.jobId) {
      // Taken over while it waited: the worker finds another job on the partition and skips it.
      result.duplicates++;
      return;
    }
    store.setDue(key, now + TTL_MS + Math.floor(random() * 0.1 * TTL_MS), "idle");
    result.syncs++;
    const minute = Math.floor((now - start) / 60_000);
    completedPerMinute.set(minute, (completedPerMinute.get(minute) ?? 0) + 1);
    if (backlogKeys.delete(key)) {
      backlogLeft--;
      if (backlogLeft === 0) result.backlogDrainedMinutes = Math.round((now - start - BACKLOG_AT_MS) / 60_000);
    }
  };

  for (now = start; now < start + DAY_MS; now += 1_000) {
    if ((now - start) % SCHEDULE_MS === 0) {
      store.spentMs = 0;
      const cpuStarted = performance.now();
      const summary = await runPlanner(
        {
          repos,
          queue,
          clock: { now: () => clock.now() + store.spentMs },
          log,
          ...(options.maxQueueDepth === undefined
            ? {}
            : { queueDepth: async () => depth(), options: { maxQueueDepth: options.maxQueueDepth } }),
        },
        { now, deadline: now + PLANNER_BUDGET_MS },
      );
      result.plannerCpuMaxMs = Math.max(result.plannerCpuMaxMs, performance.now() - cpuStarted);
      result.plannerMaxMs = Math.max(result.plannerMaxMs, store.spentMs);
      result.takeOvers += summary.takenOver;
      result.maxStalenessSeconds = Math.max(result.maxStalenessSeconds, summary.oldestOverdueSeconds);
    }
    for (let i = invocations.length - 1; i >= 0; i--) {
      const invocation = invocations[i] as (typeof invocations)[number];
      if (invocation.endsAt > now) continue;
      for (const message of invocation.messages) finish(message);
      invocations.splice(i, 1);
    }
    while (invocations.length < WORKER_CONCURRENCY && depth() > 0) {
      const messages = visible.slice(head, head + BATCH_SIZE);
      head += messages.length;
      // Records of a batch run concurrently: the invocation lasts as long as its longest sync.
      // A message whose partition moved on to another job is skipped at once (one read).
      const current = (m: SyncMessage) => store.rows.get(keyOf(m))?.currentJobId === m.jobId;
      invocations.push({
        endsAt: now + Math.max(...messages.map((m) => (current(m) ? duration() : 100))),
        messages,
      });
    }
    result.maxQueueDepth = Math.max(result.maxQueueDepth, depth());
  }
  result.peakSyncsPerSecond = Math.max(...completedPerMinute.values()) / 60;
  result.dueBeforeCutoff = cutoff;
  return result;
}

export async function run(): Promise<BenchFigure[]> {
  const day = await simulateDay({ maxQueueDepth: DEFAULT_PLANNER_OPTIONS.maxQueueDepth });
  const unbounded = await simulateDay({});
  const round = (n: number) => Math.round(n * 10) / 10;
  return [
    { key: "scale.day250k.partitions", value: PARTITIONS, unit: "partitions" },
    {
      key: "scale.day250k.syncs",
      value: day.syncs,
      unit: "syncs",
      target: `>= ${day.dueBeforeCutoff} (due before 23:45)`,
      ok: day.syncs >= day.dueBeforeCutoff,
    },
    { key: "scale.day250k.takeOvers", value: day.takeOvers, unit: "", target: "= 0", ok: day.takeOvers === 0 },
    {
      key: "scale.day250k.maxQueueDepth",
      value: day.maxQueueDepth,
      unit: "messages",
      target: `<= ${DEFAULT_PLANNER_OPTIONS.maxQueueDepth + 100}`,
      ok: day.maxQueueDepth <= DEFAULT_PLANNER_OPTIONS.maxQueueDepth + 100,
    },
    {
      key: "scale.day250k.plannerMaxMs",
      value: Math.round(day.plannerMaxMs),
      unit: "ms (modelled)",
      target: `<= ${PLANNER_BUDGET_MS} ms`,
      ok: day.plannerMaxMs <= PLANNER_BUDGET_MS,
    },
    { key: "scale.day250k.plannerCpuMaxMs", value: Math.round(day.plannerCpuMaxMs), unit: "ms" },
    { key: "scale.day250k.maxStalenessSeconds", value: day.maxStalenessSeconds, unit: "s" },
    { key: "scale.day250k.peakSyncsPerSecond", value: round(day.peakSyncsPerSecond), unit: "syncs/s" },
    { key: "scale.day250k.backlogDrainedMinutes", value: day.backlogDrainedMinutes, unit: "min" },
    {
      key: "scale.day250k.duplicates",
      value: day.duplicates,
      unit: "messages",
      target: "= 0",
      ok: day.duplicates === 0,
    },
    { key: "scale.day250kWithoutBackpressure.takeOvers", value: unbounded.takeOvers, unit: "" },
    { key: "scale.day250kWithoutBackpressure.maxQueueDepth", value: unbounded.maxQueueDepth, unit: "messages" },
  ];
}
