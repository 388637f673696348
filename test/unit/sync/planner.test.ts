import { describe, expect, it, vi } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import type { Job, Partition } from "../../../shared/domain/entities.js";
import { ConflictError } from "../../../shared/domain/errors.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { type Source, sourceSchema } from "../../../shared/domain/source-config.js";
import type { QueueMessage } from "../../../shared/domain/sync-message.js";
import { createLogger } from "../../../shared/log.js";
import { createMetrics } from "../../../shared/metrics.js";
import { dueShard } from "../../../shared/storage/keys.js";
import type { ClaimInput, DueEntry, NewJob, Repositories } from "../../../shared/storage/ports.js";
import { recordPlannerMetrics, runPlanner } from "../../../shared/sync/plan.js";
import type { SyncQueue } from "../../../shared/sync/sync-queue.js";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const log = createLogger({}, "silent");

/** Just enough of the repositories for the planner, in memory, with the claim semantics of the real one. */
function fakeRepos(due: { ref: PartitionRef; dueAt: number; status?: Partition["status"] }[], sources: string[]) {
  const dueIndex = new Map<string, DueEntry>();
  const key = (ref: PartitionRef) => `${ref.tenantId}/${ref.integrationId}/${ref.connectionId}/${ref.dataType}`;
  for (const entry of due) {
    const dueAt = iso(entry.dueAt);
    dueIndex.set(key(entry.ref), {
      ref: entry.ref,
      status: entry.status ?? "idle",
      dueSk: `${dueAt}#${key(entry.ref)}`,
      dueAt,
    });
  }
  const jobs = new Map<string, Job>();
  const paused: string[] = [];
  const source = (dataType: string): Source =>
    sourceSchema.parse({
      tenantId: "t1",
      integrationId: "slack",
      dataType,
      integrationSlug: "slack",
      actionSlug: "list-users",
      referenceData: { dataType, extractionPath: "$.members[*]" },
      revision: 1,
      createdAt: iso(NOW),
      updatedAt: iso(NOW),
    });
  const repos = {
    sources: {
      get: async (_t: string, _i: string, dataType: string) =>
        sources.includes(dataType) ? source(dataType) : undefined,
    },
    partitions: {
      async queryDue(shard: number, untilIso: string, page: { limit: number; startKey?: Record<string, unknown> }) {
        const all = [...dueIndex.values()]
          .filter((entry) => dueShard(entry.ref) === shard && entry.dueAt <= untilIso)
          .sort((a, b) => a.dueSk.localeCompare(b.dueSk));
        const start = Number(page.startKey?.offset ?? 0);
        const items = all.slice(start, start + page.limit);
        return start + page.limit < all.length ? { items, nextKey: { offset: start + page.limit } } : { items };
      },
      async claim(ref: PartitionRef, input: ClaimInput) {
        const entry = dueIndex.get(key(ref));
        if (!entry || entry.dueSk !== input.expectedDueSk) throw new ConflictError("not claimable");
        const deadline = iso(input.requeueDeadline);
        dueIndex.set(key(ref), {
          ...entry,
          status: "queued",
          dueSk: `${deadline}#${key(ref)}`,
          dueAt: deadline,
          currentJobId: input.jobId,
        });
        return { ...ref, status: "queued", version: 0 } as Partition;
      },
      async pause(ref: PartitionRef) {
        dueIndex.delete(key(ref));
        paused.push(key(ref));
      },
    },
    jobs: {
      async create(input: NewJob) {
        const job = {
          ...input.ref,
          jobId: input.jobId,
          status: "pending",
          trigger: input.trigger,
          mode: input.mode,
        } as Job;
        jobs.set(input.jobId, job);
        return job;
      },
      get: async (_t: string, _i: string, jobId: string) => jobs.get(jobId),
      update: async () => {
        throw new Error("not used");
      },
    },
  };
  return { repos: repos as unknown as Repositories, jobs, paused };
}

function fakeQueue(failEvery = 0): SyncQueue & { sent: QueueMessage[]; calls: number } {
  const queue = {
    sent: [] as QueueMessage[],
    calls: 0,
    async send(messages: QueueMessage[]) {
      queue.calls++;
      const failed = failEvery > 0 ? messages.filter((_m, i) => i % failEvery === 0) : [];
      queue.sent.push(...messages.filter((m) => !failed.includes(m)));
      return { failed, sendBatchCalls: 1 };
    },
  };
  return queue;
}

const refs = (count: number, dataType = "users"): PartitionRef[] =>
  Array.from({ length: count }, (_, i) => ({
    tenantId: "t1",
    integrationId: "slack",
    connectionId: `c${i}`,
    dataType,
  }));

describe("runPlanner", () => {
  it("claims every due partition once, creates its pending job and sends messages in tens", async () => {
    const due = refs(25).map((ref, i) => ({ ref, dueAt: NOW - (i + 1) * 1000 }));
    const notDue = refs(5).map((ref) => ({ ref: { ...ref, dataType: "channels" }, dueAt: NOW + 60_000 }));
    const { repos, jobs } = fakeRepos([...due, ...notDue], ["users", "channels"]);
    const queue = fakeQueue();

    const summary = await runPlanner(
      { repos, queue, clock: { now: () => NOW }, log },
      { now: NOW, deadline: NOW + 60_000 },
    );

    expect(summary).toMatchObject({
      due: 25,
      claimed: 25,
      enqueued: 25,
      failed: 0,
      skipped: 0,
      paused: 0,
      stoppedEarly: false,
    });
    expect(summary.oldestOverdueSeconds).toBe(25);
    expect(queue.calls).toBe(3);
    expect(new Set(queue.sent.map((m) => (m.kind === "sync" ? m.jobId : undefined))).size).toBe(25);
    expect([...jobs.values()].every((job) => job.status === "pending" && job.trigger === "schedule")).toBe(true);

    const again = await runPlanner(
      { repos, queue, clock: { now: () => NOW }, log },
      { now: NOW, deadline: NOW + 60_000 },
    );
    expect(again).toMatchObject({ due: 0, claimed: 0, enqueued: 0 });
  });

  it("stops at maxPartitions and leaves the rest due for the next run", async () => {
    const { repos } = fakeRepos(
      refs(30).map((ref) => ({ ref, dueAt: NOW - 1000 })),
      ["users"],
    );
    const queue = fakeQueue();
    const clock = { now: () => NOW };

    const first = await runPlanner(
      { repos, queue, clock, log },
      { now: NOW, deadline: NOW + 60_000, maxPartitions: 12 },
    );
    expect(first.claimed).toBe(12);
    expect(first.enqueued).toBe(12);
    expect(first.stoppedEarly).toBe(true);

    const second = await runPlanner({ repos, queue, clock, log }, { now: NOW, deadline: NOW + 60_000 });
    expect(second.claimed).toBe(18);
    expect(queue.sent).toHaveLength(30);
  });

  it("claims nothing once the deadline has passed", async () => {
    const { repos } = fakeRepos(
      refs(3).map((ref) => ({ ref, dueAt: NOW - 1000 })),
      ["users"],
    );
    const summary = await runPlanner(
      { repos, queue: fakeQueue(), clock: { now: () => NOW }, log },
      { now: NOW, deadline: NOW },
    );
    expect(summary).toMatchObject({ claimed: 0, enqueued: 0, stoppedEarly: true });
  });

  it("pauses a partition whose source was deleted instead of enqueuing it, when it reads sources", async () => {
    const [kept, orphan] = [refs(1)[0] as PartitionRef, { ...(refs(1)[0] as PartitionRef), dataType: "gone" }];
    const { repos, paused } = fakeRepos(
      [
        { ref: kept, dueAt: NOW - 1000 },
        { ref: orphan, dueAt: NOW - 1000 },
      ],
      ["users"],
    );
    const queue = fakeQueue();
    const summary = await runPlanner(
      { repos, queue, clock: { now: () => NOW }, log, options: { readSources: true } },
      { now: NOW, deadline: NOW + 60_000 },
    );
    expect(summary).toMatchObject({ due: 2, claimed: 1, enqueued: 1, paused: 1 });
    expect(paused).toEqual(["t1/slack/c0/gone"]);
    expect(queue.sent.map((m) => ("dataType" in m ? m.dataType : undefined))).toEqual(["users"]);
  });

  it("leaves sources to the worker by default: one read per due entry, provisional full mode", async () => {
    const gone = { ...(refs(1)[0] as PartitionRef), dataType: "gone" };
    const { repos, jobs, paused } = fakeRepos([{ ref: gone, dueAt: NOW - 1000 }], []);
    const summary = await runPlanner(
      { repos, queue: fakeQueue(), clock: { now: () => NOW }, log },
      { now: NOW, deadline: NOW + 60_000 },
    );
    expect(summary).toMatchObject({ claimed: 1, enqueued: 1, paused: 0 });
    expect(paused).toEqual([]);
    expect([...jobs.values()][0]).toMatchObject({ mode: "full", status: "pending" });
  });

  it("counts messages the queue refused as failed", async () => {
    const { repos } = fakeRepos(
      refs(10).map((ref) => ({ ref, dueAt: NOW - 1000 })),
      ["users"],
    );
    const summary = await runPlanner(
      { repos, queue: fakeQueue(5), clock: { now: () => NOW }, log },
      { now: NOW, deadline: NOW + 60_000 },
    );
    expect(summary).toMatchObject({ claimed: 10, enqueued: 8, failed: 2 });
  });

  it("holds claims back while the queue is deeper than maxQueueDepth, and fills only the room left", async () => {
    const due = refs(30).map((ref, i) => ({ ref, dueAt: NOW - (i + 1) * 1000 }));
    const { repos } = fakeRepos(due, ["users"]);

    const full = await runPlanner(
      {
        repos,
        queue: fakeQueue(),
        clock: { now: () => NOW },
        log,
        queueDepth: async () => 120,
        options: { maxQueueDepth: 100 },
      },
      { now: NOW, deadline: NOW + 60_000 },
    );
    const partial = await runPlanner(
      {
        repos,
        queue: fakeQueue(),
        clock: { now: () => NOW },
        log,
        queueDepth: async () => 90,
        options: { maxQueueDepth: 100 },
      },
      { now: NOW, deadline: NOW + 60_000 },
    );
    const unknownDepth = await runPlanner(
      {
        repos,
        queue: fakeQueue(),
        clock: { now: () => NOW },
        log,
        queueDepth: async () => {
          throw new Error("GetQueueAttributes throttled");
        },
        options: { maxQueueDepth: 100 },
      },
      { now: NOW, deadline: NOW + 60_000 },
    );

    expect(full).toMatchObject({ claimed: 0, enqueued: 0, backpressure: true, queueDepth: 120 });
    expect(partial).toMatchObject({ claimed: 10, enqueued: 10, backpressure: true, queueDepth: 90 });
    expect(unknownDepth).toMatchObject({ claimed: 20, enqueued: 20, backpressure: false });
  });

  it("publishes the oldest overdue time as StalenessSeconds, with take-overs and queue depth, in one EMF line", () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let lines: string[];
    try {
      const metrics = createMetrics({ stage: "test" });
      recordPlannerMetrics(metrics, {
        due: 3,
        claimed: 3,
        enqueued: 3,
        failed: 0,
        skipped: 0,
        paused: 0,
        resumed: 0,
        takenOver: 2,
        oldestOverdueSeconds: 42,
        sendBatchCalls: 1,
        stoppedEarly: false,
        queueDepth: 7,
        backpressure: false,
      });
      metrics.publish();
    } finally {
      lines = write.mock.calls.map(([line]) => String(line));
      write.mockRestore();
    }
    const emf = lines.map((line) => JSON.parse(line)).find((line) => line._aws !== undefined);
    expect(emf).toMatchObject({ StalenessSeconds: 42, PartitionTakeOvers: 2, SyncQueueVisibleDepth: 7, stage: "test" });
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe("ReferenceDataSync");
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: "StalenessSeconds", Unit: "Seconds" });
  });
});
