import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JOB_ERROR } from "../../../shared/domain/errors.js";
import { createLogger } from "../../../shared/log.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { type ClaimDeps, claimPartition } from "../../../shared/sync/claims.js";
import { LEASE_MS, MANUAL_MIN_INTERVAL_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef, T0 } from "../storage/fixtures.js";

const ref = partitionRef();
const log = createLogger({}, "silent");

describe("claimPartition", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let deps: ClaimDeps;

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    repos = (await newStore(dynamo)).repos;
    deps = { repos, log };
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
  });

  const claimAt = (jobId: string, now: number, extra: { manualMinIntervalMs?: number } = {}) =>
    claimPartition(deps, ref, { jobId, now, requeueDeadline: now + REQUEUE_WINDOW_MS, ...extra });

  it("refuses a partition in flight, naming the job that is on it", async () => {
    expect(await claimAt("JOB1", T0)).toMatchObject({ claimed: true, reconcile: false });
    expect(await claimAt("JOB2", T0 + 1_000)).toEqual({
      claimed: false,
      refusal: { reason: "in_flight", jobId: "JOB1" },
    });
  });

  it("refuses a manual claim inside the minimum interval with how long to wait, after the last job finished", async () => {
    await claimAt("JOB1", T0, { manualMinIntervalMs: MANUAL_MIN_INTERVAL_MS });
    await repos.partitions.acquireLease(ref, { jobId: "JOB1", owner: "w", now: T0, leaseMs: LEASE_MS });
    await repos.partitions.recordFailure(ref, {
      jobId: "JOB1",
      owner: "w",
      now: T0,
      error: { code: "INTERNAL_ERROR", message: "boom" },
      nextSyncAt: T0,
    });
    const refused = await claimAt("JOB2", T0 + 20_000, { manualMinIntervalMs: MANUAL_MIN_INTERVAL_MS });
    expect(refused).toEqual({
      claimed: false,
      refusal: { reason: "throttled", retryAfterMs: MANUAL_MIN_INTERVAL_MS - 20_000, lastJobId: "JOB1" },
    });
  });

  it("refuses a paused partition with its pause reason, and a partition that does not exist as gone", async () => {
    await repos.partitions.pause(ref, "credentials", T0);
    expect(await claimAt("JOB1", T0)).toEqual({
      claimed: false,
      refusal: { reason: "paused", pauseReason: "credentials" },
    });
    const missing = await claimPartition(deps, partitionRef({ dataType: "channels" }), {
      jobId: "JOB2",
      now: T0,
      requeueDeadline: T0 + REQUEUE_WINDOW_MS,
    });
    expect(missing).toEqual({ claimed: false, refusal: { reason: "gone" } });
  });

  it("takes over a job whose message was lost: fails it as NOT_PICKED_UP and asks the new job to reconcile", async () => {
    await claimAt("JOB1", T0);
    await repos.jobs.create({ ref, jobId: "JOB1", trigger: "schedule", mode: "full", now: T0 });
    const later = T0 + REQUEUE_WINDOW_MS + 1_000;

    const claim = await claimAt("JOB2", later);

    expect(claim).toMatchObject({ claimed: true, takenOverJobId: "JOB1", reconcile: true });
    expect(await repos.jobs.get(ref.tenantId, ref.integrationId, "JOB1")).toMatchObject({
      status: "failed",
      error: { code: JOB_ERROR.notPickedUp, retryable: true },
    });
  });

  it("takes over a dead worker's job as LEASE_EXPIRED", async () => {
    await claimAt("JOB1", T0);
    await repos.jobs.create({ ref, jobId: "JOB1", trigger: "schedule", mode: "full", now: T0 });
    await repos.partitions.acquireLease(ref, { jobId: "JOB1", owner: "dead", now: T0, leaseMs: LEASE_MS });

    const claim = await claimAt("JOB2", T0 + LEASE_MS + 1_000);

    expect(claim).toMatchObject({ claimed: true, takenOverJobId: "JOB1", reconcile: true });
    expect((await repos.jobs.get(ref.tenantId, ref.integrationId, "JOB1"))?.error?.code).toBe(JOB_ERROR.leaseExpired);
  });

  it("needs no reconcile when the caller read the lost job and it never started", async () => {
    await claimAt("JOB1", T0);
    const lost = await repos.jobs.create({ ref, jobId: "JOB1", trigger: "schedule", mode: "full", now: T0 });
    const later = T0 + REQUEUE_WINDOW_MS + 1_000;

    const claim = await claimPartition(deps, ref, {
      jobId: "JOB2",
      now: later,
      requeueDeadline: later + REQUEUE_WINDOW_MS,
      previousJob: lost,
    });

    expect(claim).toMatchObject({ claimed: true, takenOverJobId: "JOB1", reconcile: false });
  });

  it("takes over nothing when the same job is claimed again (a resume)", async () => {
    await claimAt("JOB1", T0);
    await repos.jobs.create({ ref, jobId: "JOB1", trigger: "schedule", mode: "full", now: T0 });

    const claim = await claimAt("JOB1", T0 + REQUEUE_WINDOW_MS + 1_000);

    expect(claim).toEqual(expect.objectContaining({ claimed: true, reconcile: false }));
    expect(claim).not.toHaveProperty("takenOverJobId");
    expect((await repos.jobs.get(ref.tenantId, ref.integrationId, "JOB1"))?.status).toBe("pending");
  });
});
