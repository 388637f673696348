import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../../../shared/domain/errors.js";
import type { PartitionRef } from "../../../shared/domain/index.js";
import { dueShard, keys } from "../../../shared/storage/keys.js";
import type { DueEntry, PartitionRepository } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef, T0 } from "./fixtures.js";

const MIN = 60_000;

describe("DynamoPartitionRepository", () => {
  let dynamo: TestDynamo;
  let partitions: PartitionRepository;
  let tableName: string;
  const ref = partitionRef();

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    const store = await newStore(dynamo);
    partitions = store.repos.partitions;
    tableName = store.tableName;
  });

  async function rawRow(r: PartitionRef = ref): Promise<Record<string, unknown> | undefined> {
    const result = await dynamo.doc.send(new GetCommand({ TableName: tableName, Key: keys.partition(r) }));
    return result.Item;
  }

  async function allDue(untilIso: string): Promise<DueEntry[]> {
    const entries: DueEntry[] = [];
    for (let shard = 0; shard < 16; shard++) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await partitions.queryDue(shard, untilIso, { limit: 100, startKey });
        entries.push(...page.items);
        startKey = page.nextKey;
      } while (startKey);
    }
    return entries;
  }

  async function claimAndLease(r: PartitionRef = ref, jobId = "JOB1", owner = "worker-a") {
    await partitions.claim(r, { jobId, now: T0, requeueDeadline: T0 + 15 * MIN });
    return partitions.acquireLease(r, { jobId, owner, now: T0, leaseMs: 2 * MIN });
  }

  describe("create, get, list, delete", () => {
    it("creates an idle partition due now, on its due shard, and strips storage attributes", async () => {
      const created = await partitions.create(ref, { syncType: "list", now: T0 });
      expect(created).toMatchObject({ status: "idle", version: 0, nextSyncAt: iso(T0), consecutiveFailures: 0 });

      const read = await partitions.get(ref);
      expect(read).toEqual(created);
      expect(read).not.toHaveProperty("PK");
      expect(read).not.toHaveProperty("GSI1SK");
      expect(read).not.toHaveProperty("entity");

      const row = await rawRow();
      expect(row?.entity).toBe("partition");
      expect(row?.GSI1PK).toBe(`DUE#${String(dueShard(ref)).padStart(2, "0")}`);
      expect(row?.GSI1SK).toBe(`${iso(T0)}#acme#slack#default#users`);
    });

    it("refuses to create a partition twice", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await expect(partitions.create(ref, { syncType: "object", now: T0 })).rejects.toBeInstanceOf(ConflictError);
    });

    it("honours an explicit due time", async () => {
      const created = await partitions.create(ref, { syncType: "list", now: T0, dueAt: T0 + 5 * MIN });
      expect(created.nextSyncAt).toBe(iso(T0 + 5 * MIN));
      expect(await allDue(iso(T0))).toHaveLength(0);
      expect(await allDue(iso(T0 + 5 * MIN))).toHaveLength(1);
    });

    it("rejects an ID containing the key separator with a ValidationError", async () => {
      await expect(
        partitions.create(partitionRef({ tenantId: "acme#other" }), { syncType: "list", now: T0 }),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(partitions.get(partitionRef({ dataType: "a#b" }))).rejects.toBeInstanceOf(ValidationError);
    });

    it("lists the partitions of an integration, narrowed by connection or dataType", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.create(partitionRef({ dataType: "channels" }), { syncType: "list", now: T0 });
      await partitions.create(partitionRef({ connectionId: "conn-2" }), { syncType: "list", now: T0 });
      await partitions.create(partitionRef({ integrationId: "github" }), { syncType: "list", now: T0 });
      await partitions.create(partitionRef({ tenantId: "other" }), { syncType: "list", now: T0 });

      const all = await partitions.listByIntegration("acme", "slack");
      expect(all.map((p) => `${p.connectionId}/${p.dataType}`).sort()).toEqual([
        "conn-2/users",
        "default/channels",
        "default/users",
      ]);
      const byConnection = await partitions.listByIntegration("acme", "slack", { connectionId: "default" });
      expect(byConnection).toHaveLength(2);
      const byType = await partitions.listByIntegration("acme", "slack", { dataType: "users" });
      expect(byType.map((p) => p.connectionId).sort()).toEqual(["conn-2", "default"]);
    });

    it("deletes a partition", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.delete(ref);
      expect(await partitions.get(ref)).toBeUndefined();
      expect(await allDue(iso(T0))).toHaveLength(0);
    });
  });

  describe("ensure", () => {
    it("creates a missing partition and leaves an existing one alone", async () => {
      expect(await partitions.ensure(ref, { syncType: "list", now: T0 })).toEqual({ created: true });
      await claimAndLease();
      expect(await partitions.ensure(ref, { syncType: "list", now: T0 + MIN })).toEqual({ created: false });
      expect((await partitions.get(ref))?.status).toBe("syncing");
    });

    it("resumes a partition paused for a config error or a deleted source, due now", async () => {
      for (const reason of ["config", "source_deleted"] as const) {
        await partitions.ensure(ref, { syncType: "list", now: T0 });
        await partitions.pause(ref, reason, T0);
        expect(await partitions.ensure(ref, { syncType: "list", now: T0 + MIN })).toEqual({ created: false });
        const resumed = await partitions.get(ref);
        expect(resumed).toMatchObject({ status: "idle", nextSyncAt: iso(T0 + MIN) });
        expect(resumed?.pauseReason).toBeUndefined();
        expect((await rawRow())?.GSI1SK).toBe(`${iso(T0 + MIN)}#acme#slack#default#users`);
      }
    });

    it("keeps a credentials pause unless the caller lists that reason", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.pause(ref, "credentials", T0);
      await partitions.ensure(ref, { syncType: "list", now: T0 });
      expect((await partitions.get(ref))?.status).toBe("paused");
      await partitions.ensure(ref, { syncType: "list", now: T0, resumeReasons: ["credentials"] });
      expect((await partitions.get(ref))?.status).toBe("idle");
    });
  });

  describe("due index", () => {
    it("returns due partitions oldest first with the exact due key, including one due exactly at the bound", async () => {
      // Same shard for all: pick refs that hash to ref's shard.
      const shard = dueShard(ref);
      const sameShard: PartitionRef[] = [];
      for (let n = 0; sameShard.length < 3; n++) {
        const candidate = partitionRef({ connectionId: `c${n}` });
        if (dueShard(candidate) === shard) sameShard.push(candidate);
      }
      const [a, b, c] = sameShard as [PartitionRef, PartitionRef, PartitionRef];
      await partitions.create(a, { syncType: "list", now: T0, dueAt: T0 + 2 * MIN });
      await partitions.create(b, { syncType: "list", now: T0, dueAt: T0 + MIN });
      await partitions.create(c, { syncType: "list", now: T0, dueAt: T0 + 10 * MIN });

      const page = await partitions.queryDue(shard, iso(T0 + 2 * MIN), { limit: 10 });
      expect(page.items.map((e) => e.ref.connectionId)).toEqual([b.connectionId, a.connectionId]);
      expect(page.items[0]).toEqual({
        ref: b,
        status: "idle",
        dueSk: `${iso(T0 + MIN)}#acme#slack#${b.connectionId}#users`,
        dueAt: iso(T0 + MIN),
      });
      expect(page.nextKey).toBeUndefined();
    });

    it("pages through a shard with a limit and a start key", async () => {
      const shard = dueShard(ref);
      const refs: PartitionRef[] = [];
      for (let n = 0; refs.length < 5; n++) {
        const candidate = partitionRef({ connectionId: `p${n}` });
        if (dueShard(candidate) === shard) refs.push(candidate);
      }
      for (const [i, r] of refs.entries()) await partitions.create(r, { syncType: "list", now: T0, dueAt: T0 + i });
      const seen: string[] = [];
      let startKey: Record<string, unknown> | undefined;
      let pages = 0;
      do {
        const page = await partitions.queryDue(shard, iso(T0 + MIN), { limit: 2, startKey });
        seen.push(...page.items.map((e) => e.ref.connectionId));
        startKey = page.nextKey;
        pages++;
      } while (startKey);
      expect(seen).toEqual(refs.map((r) => r.connectionId));
      expect(pages).toBeGreaterThanOrEqual(3);
    });

    it("rejects a bad shard and a start key from another shard", async () => {
      await expect(partitions.queryDue(16, iso(T0), { limit: 1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(
        partitions.queryDue(0, iso(T0), { limit: 1, startKey: { GSI1PK: "DUE#01", GSI1SK: "x", PK: "p", SK: "s" } }),
      ).rejects.toBeInstanceOf(ValidationError);
    });

    it("moves the due key through the states: queued at the requeue deadline, syncing at the lease expiry", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.claim(ref, { jobId: "JOB1", now: T0, requeueDeadline: T0 + 15 * MIN });
      expect(await allDue(iso(T0 + 14 * MIN))).toHaveLength(0);
      const [queued] = await allDue(iso(T0 + 15 * MIN));
      expect(queued).toMatchObject({ status: "queued", currentJobId: "JOB1", dueAt: iso(T0 + 15 * MIN) });

      await partitions.acquireLease(ref, { jobId: "JOB1", owner: "w", now: T0 + MIN, leaseMs: 2 * MIN });
      const [syncing] = await allDue(iso(T0 + 3 * MIN));
      expect(syncing).toMatchObject({ status: "syncing", dueAt: iso(T0 + 3 * MIN) });
    });

    it("drops a paused partition from the index entirely", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.pause(ref, "manual", T0);
      const row = await rawRow();
      expect(row).not.toHaveProperty("GSI1PK");
      expect(row).not.toHaveProperty("GSI1SK");
      expect(await allDue(iso(T0 + 365 * 24 * 60 * MIN))).toHaveLength(0);
    });
  });

  describe("claim", () => {
    it("claims a due partition on its observed due key: queued with the job and the requeue deadline", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      const [entry] = await allDue(iso(T0));
      const claimed = await partitions.claim(ref, {
        jobId: "JOB1",
        now: T0,
        requeueDeadline: T0 + 15 * MIN,
        expectedDueSk: entry?.dueSk,
      });
      expect(claimed).toMatchObject({ status: "queued", currentJobId: "JOB1", deadlineAt: iso(T0 + 15 * MIN) });
    });

    it("lets only one of two planners claim with the same due key", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      const [entry] = await allDue(iso(T0));
      const input = { now: T0, requeueDeadline: T0 + 15 * MIN, expectedDueSk: entry?.dueSk };
      const results = await Promise.allSettled([
        partitions.claim(ref, { ...input, jobId: "JOB-A" }),
        partitions.claim(ref, { ...input, jobId: "JOB-B" }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.find((r) => r.status === "rejected");
      expect(rejected?.status === "rejected" && rejected.reason).toBeInstanceOf(ConflictError);
    });

    it("rejects a second claim with the same due key after the first moved it", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      const [entry] = await allDue(iso(T0));
      const input = { now: T0, requeueDeadline: T0 + 15 * MIN, expectedDueSk: entry?.dueSk };
      await partitions.claim(ref, { ...input, jobId: "JOB-A" });
      await expect(partitions.claim(ref, { ...input, jobId: "JOB-B" })).rejects.toBeInstanceOf(ConflictError);
      expect((await partitions.get(ref))?.currentJobId).toBe("JOB-A");
    });

    it("without a due key, claims idle/failed/paused partitions but not one in flight until its deadline passed", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.claim(ref, { jobId: "JOB1", now: T0, requeueDeadline: T0 + 15 * MIN });
      const refused = partitions.claim(ref, { jobId: "JOB2", now: T0 + MIN, requeueDeadline: T0 + 16 * MIN });
      await expect(refused).rejects.toBeInstanceOf(ConflictError);
      await expect(refused).rejects.toMatchObject({ details: { reason: "in_flight", currentJobId: "JOB1" } });

      const reclaimed = await partitions.claim(ref, {
        jobId: "JOB2",
        now: T0 + 16 * MIN,
        requeueDeadline: T0 + 31 * MIN,
      });
      expect(reclaimed.currentJobId).toBe("JOB2");
    });

    it("never claims a paused partition: only enrolment or a saved source resumes it", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.pause(ref, "credentials", T0);
      const claim = partitions.claim(ref, { jobId: "JOB1", now: T0, requeueDeadline: T0 + 15 * MIN });
      await expect(claim).rejects.toBeInstanceOf(ConflictError);
      await expect(claim).rejects.toMatchObject({ details: { reason: "paused", pauseReason: "credentials" } });
      expect((await partitions.get(ref))?.status).toBe("paused");
    });

    it("records the job a pause cut off as failed, so the next sync reconciles its uncommitted rows", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.pause(ref, "revoked", T0 + MIN);
      const paused = await partitions.get(ref);
      expect(paused).toMatchObject({ status: "paused", lastJobId: "JOB1", lastJobStatus: "failed" });
      expect(paused?.currentJobId).toBeUndefined();
    });

    it("keeps the last job's outcome when pausing an idle partition", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.recordSuccess(ref, success("JOB1", "worker-a"));
      await partitions.pause(ref, "credentials", T0 + 5 * MIN);
      expect(await partitions.get(ref)).toMatchObject({ status: "paused", lastJobStatus: "completed" });
    });

    it("throttles manual claims inside the minimum interval, and says how long to wait", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      const manual = { manualMinIntervalMs: MIN, requeueDeadline: T0 + 15 * MIN };
      const first = await partitions.claim(ref, { ...manual, jobId: "JOB1", now: T0 });
      expect(first.lastManualTriggerAt).toBe(iso(T0));
      await claimAndLeaseFinish("JOB1");

      const throttled = partitions.claim(ref, { ...manual, jobId: "JOB2", now: T0 + 20_000 });
      await expect(throttled).rejects.toBeInstanceOf(ConflictError);
      await expect(throttled).rejects.toMatchObject({ details: { reason: "throttled", retryAfterMs: 40_000 } });

      const later = await partitions.claim(ref, { ...manual, jobId: "JOB3", now: T0 + MIN + 1 });
      expect(later.currentJobId).toBe("JOB3");
    });

    it("reports a missing partition as NotFoundError", async () => {
      await expect(partitions.claim(ref, { jobId: "JOB1", now: T0, requeueDeadline: T0 + MIN })).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    async function claimAndLeaseFinish(jobId: string) {
      await partitions.acquireLease(ref, { jobId, owner: "w", now: T0, leaseMs: MIN });
      await partitions.recordSuccess(ref, success(jobId, "w"));
    }
  });

  describe("lease", () => {
    it("acquires the lease of a queued partition for its job", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      const leased = await claimAndLease();
      expect(leased).toMatchObject({ status: "syncing", leaseOwner: "worker-a", deadlineAt: iso(T0 + 2 * MIN) });
    });

    it("refuses the lease for another job's message", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await partitions.claim(ref, { jobId: "JOB1", now: T0, requeueDeadline: T0 + 15 * MIN });
      await expect(
        partitions.acquireLease(ref, { jobId: "OLD", owner: "w", now: T0, leaseMs: MIN }),
      ).rejects.toBeInstanceOf(ConflictError);
    });

    it("refuses the lease while another worker holds it, and grants it after it expired", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease(ref, "JOB1", "worker-a");
      await expect(
        partitions.acquireLease(ref, { jobId: "JOB1", owner: "worker-b", now: T0 + MIN, leaseMs: 2 * MIN }),
      ).rejects.toBeInstanceOf(ConflictError);
      const taken = await partitions.acquireLease(ref, {
        jobId: "JOB1",
        owner: "worker-b",
        now: T0 + 2 * MIN + 1,
        leaseMs: 2 * MIN,
      });
      expect(taken.leaseOwner).toBe("worker-b");
    });

    it("lets the owner re-acquire its own lease (a redelivered message)", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease(ref, "JOB1", "worker-a");
      const again = await partitions.acquireLease(ref, {
        jobId: "JOB1",
        owner: "worker-a",
        now: T0 + MIN,
        leaseMs: MIN,
      });
      expect(again.deadlineAt).toBe(iso(T0 + 2 * MIN));
    });

    it("renews a held lease and moves the due key with it", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.renewLease(ref, { jobId: "JOB1", owner: "worker-a", now: T0 + MIN, leaseMs: 2 * MIN });
      expect((await partitions.get(ref))?.deadlineAt).toBe(iso(T0 + 3 * MIN));
      expect((await rawRow())?.GSI1SK).toBe(`${iso(T0 + 3 * MIN)}#acme#slack#default#users`);
    });

    it("refuses to renew after the lease was lost to another worker", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease(ref, "JOB1", "worker-a");
      await partitions.acquireLease(ref, { jobId: "JOB1", owner: "worker-b", now: T0 + 3 * MIN, leaseMs: 2 * MIN });
      await expect(
        partitions.renewLease(ref, { jobId: "JOB1", owner: "worker-a", now: T0 + 3 * MIN, leaseMs: 2 * MIN }),
      ).rejects.toBeInstanceOf(ConflictError);
    });

    it("requeues a continuation for the same job and refuses without the lease", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await expect(
        partitions.requeue(ref, { jobId: "JOB1", owner: "worker-b", now: T0, deadline: T0 + 15 * MIN }),
      ).rejects.toBeInstanceOf(ConflictError);
      await partitions.requeue(ref, { jobId: "JOB1", owner: "worker-a", now: T0, deadline: T0 + 15 * MIN });
      const queued = await partitions.get(ref);
      expect(queued).toMatchObject({ status: "queued", currentJobId: "JOB1", deadlineAt: iso(T0 + 15 * MIN) });
      expect(queued?.leaseOwner).toBeUndefined();
      // The next invocation picks it up under the same job.
      const resumed = await partitions.acquireLease(ref, { jobId: "JOB1", owner: "worker-c", now: T0, leaseMs: MIN });
      expect(resumed.leaseOwner).toBe("worker-c");
      // The old owner's heartbeat now fails.
      await expect(
        partitions.renewLease(ref, { jobId: "JOB1", owner: "worker-a", now: T0, leaseMs: MIN }),
      ).rejects.toBeInstanceOf(ConflictError);
    });
  });

  describe("outcomes", () => {
    it("records success: idle at the next sync time, version flipped, failures reset, lease released", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.recordFailure(ref, failure("JOB1", "worker-a"));
      await partitions.claim(ref, { jobId: "JOB2", now: T0 + 2 * MIN, requeueDeadline: T0 + 17 * MIN });
      await partitions.acquireLease(ref, { jobId: "JOB2", owner: "worker-a", now: T0 + 2 * MIN, leaseMs: MIN });

      const done = await partitions.recordSuccess(ref, success("JOB2", "worker-a"));
      expect(done).toMatchObject({
        status: "idle",
        version: 1,
        manifestChunks: 1,
        objectChunks: 0,
        itemCount: 42,
        nextSyncAt: iso(T0 + 60 * MIN),
        lastSyncedAt: iso(T0 + 3 * MIN),
        lastSyncStartedAt: iso(T0 + 2 * MIN),
        // The start of the full sync: a change made while it ran may have been missed by it.
        lastFullSyncAt: iso(T0 + 2 * MIN),
        consecutiveFailures: 0,
        lastJobId: "JOB2",
        lastJobStatus: "completed",
      });
      for (const gone of ["lastError", "leaseOwner", "currentJobId", "deadlineAt"])
        expect(done).not.toHaveProperty(gone);
      expect((await rawRow())?.GSI1SK).toBe(`${iso(T0 + 60 * MIN)}#acme#slack#default#users`);
    });

    it("keeps lastFullSyncAt on an incremental success", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      const done = await partitions.recordSuccess(ref, { ...success("JOB1", "worker-a"), full: false });
      expect(done.lastFullSyncAt).toBeUndefined();
    });

    it("refuses to record success without the lease and changes nothing", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease(ref, "JOB1", "worker-a");
      const before = await partitions.get(ref);
      await expect(partitions.recordSuccess(ref, success("JOB1", "worker-b"))).rejects.toBeInstanceOf(ConflictError);
      await expect(partitions.recordSuccess(ref, success("JOB0", "worker-a"))).rejects.toBeInstanceOf(ConflictError);
      expect(await partitions.get(ref)).toEqual(before);
    });

    it("records a retryable failure: failed, failures counted, due again at nextSyncAt", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      for (const [n, jobId] of ["JOB1", "JOB2"].entries()) {
        await claimAndLease(ref, jobId, "worker-a");
        const failed = await partitions.recordFailure(ref, failure(jobId, "worker-a"));
        expect(failed).toMatchObject({
          status: "failed",
          consecutiveFailures: n + 1,
          nextSyncAt: iso(T0 + 2 * MIN),
          lastError: { code: "INTERNAL_ERROR", message: "boom" },
          lastJobId: jobId,
          lastJobStatus: "failed",
        });
        expect(failed).not.toHaveProperty("currentJobId");
        expect(failed).not.toHaveProperty("leaseOwner");
      }
      expect((await rawRow())?.GSI1SK).toBe(`${iso(T0 + 2 * MIN)}#acme#slack#default#users`);
    });

    it("records a failure that pauses: paused with its reason and no due key", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      const paused = await partitions.recordFailure(ref, {
        ...failure("JOB1", "worker-a"),
        pause: "config",
        sourceRevision: 3,
      });
      expect(paused).toMatchObject({
        status: "paused",
        pauseReason: "config",
        sourceRevision: 3,
        consecutiveFailures: 0,
      });
      const row = await rawRow();
      expect(row).not.toHaveProperty("GSI1PK");
      expect(row).not.toHaveProperty("GSI1SK");
    });

    it("refuses to record a failure without the lease", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease(ref, "JOB1", "worker-a");
      await expect(partitions.recordFailure(ref, failure("JOB1", "worker-b"))).rejects.toBeInstanceOf(ConflictError);
    });
  });

  describe("pause and resume", () => {
    it("pauses and resumes, due now", async () => {
      await partitions.create(ref, { syncType: "list", now: T0, dueAt: T0 + 60 * MIN });
      await partitions.pause(ref, "revoked", T0);
      expect(await partitions.get(ref)).toMatchObject({ status: "paused", pauseReason: "revoked" });
      await partitions.resume(ref, T0 + MIN);
      const resumed = await partitions.get(ref);
      expect(resumed).toMatchObject({ status: "idle", nextSyncAt: iso(T0 + MIN) });
      expect(resumed?.pauseReason).toBeUndefined();
      expect(await allDue(iso(T0 + MIN))).toHaveLength(1);
    });

    it("pausing a syncing partition takes the lease away from its worker", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.pause(ref, "revoked", T0);
      await expect(partitions.recordSuccess(ref, success("JOB1", "worker-a"))).rejects.toBeInstanceOf(ConflictError);
    });

    it("resume leaves a partition in flight alone", async () => {
      await partitions.create(ref, { syncType: "list", now: T0 });
      await claimAndLease();
      await partitions.resume(ref, T0);
      expect((await partitions.get(ref))?.leaseOwner).toBe("worker-a");
    });

    it("raises NotFoundError for a missing partition", async () => {
      await expect(partitions.pause(ref, "manual", T0)).rejects.toBeInstanceOf(NotFoundError);
      await expect(partitions.resume(ref, T0)).rejects.toBeInstanceOf(NotFoundError);
    });
  });
});

function success(jobId: string, owner: string) {
  return {
    jobId,
    owner,
    now: T0 + 3 * MIN,
    nextSyncAt: T0 + 60 * MIN,
    version: 1,
    manifestChunks: 1,
    objectChunks: 0,
    itemCount: 42,
    startedAt: T0 + 2 * MIN,
    full: true,
  };
}

function failure(jobId: string, owner: string) {
  return {
    jobId,
    owner,
    now: T0 + MIN,
    nextSyncAt: T0 + 2 * MIN,
    error: { code: "INTERNAL_ERROR", message: "boom", retryable: true },
  };
}
