import { afterEach, describe, expect, it, vi } from "vitest";
import { ConflictError } from "../../../shared/domain/errors.js";
import type { QueueMessage } from "../../../shared/domain/sync-message.js";
import { createLogger } from "../../../shared/log.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { HEARTBEAT_MS, LEASE_MS, leaseSafetyMs } from "../../../shared/sync/durations.js";
import { holdLease, LeaseLostError } from "../../../shared/sync/lease.js";
import { type DeadLetterQueue, processSyncBatch, type WorkerDeps } from "../../../shared/sync/process-batch.js";
import type { SyncQueue } from "../../../shared/sync/sync-queue.js";

const log = createLogger({}, "silent");
const ref = { tenantId: "t1", integrationId: "slack", connectionId: "default", dataType: "users" };

afterEach(() => {
  vi.useRealTimers();
});

describe("holdLease", () => {
  const options = (clock: { now(): number }) => ({
    jobId: "J1",
    owner: "w1",
    leaseMs: LEASE_MS,
    heartbeatMs: HEARTBEAT_MS,
    safetyMs: leaseSafetyMs(LEASE_MS),
    clock,
    log,
  });

  it("renews on every heartbeat and stays held while renewals succeed", async () => {
    vi.useFakeTimers();
    let now = 0;
    const renewals: number[] = [];
    const lease = holdLease(
      { renewLease: async (_ref, input) => void renewals.push(input.now) },
      ref,
      0,
      options({ now: () => now }),
    );
    for (let beat = 1; beat <= 5; beat++) {
      now = beat * HEARTBEAT_MS;
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    }
    expect(renewals).toEqual([40_000, 80_000, 120_000, 160_000, 200_000]);
    expect(() => lease.assertHeld()).not.toThrow();
    await lease.stop();
  });

  it("reports the lease lost once a renewal finds another owner", async () => {
    vi.useFakeTimers();
    const lease = holdLease(
      {
        renewLease: async () => {
          throw new ConflictError("Lease lost");
        },
      },
      ref,
      0,
      options({ now: () => 0 }),
    );
    expect(() => lease.assertHeld()).not.toThrow();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(lease.lost).toBe(true);
    expect(() => lease.assertHeld()).toThrow(LeaseLostError);
    await expect(lease.renew()).rejects.toThrow(LeaseLostError);
    await lease.stop();
  });

  it("treats a lease it could not renew as lost shortly before it expires", async () => {
    vi.useFakeTimers();
    let now = 0;
    const lease = holdLease(
      {
        renewLease: async () => {
          throw new Error("network down");
        },
      },
      ref,
      0,
      options({ now: () => now }),
    );
    now = LEASE_MS - leaseSafetyMs(LEASE_MS) - 10_000;
    await vi.advanceTimersByTimeAsync(2 * HEARTBEAT_MS);
    expect(lease.lost).toBe(false);
    expect(() => lease.assertHeld()).not.toThrow();
    now = LEASE_MS - leaseSafetyMs(LEASE_MS) + 1_000;
    expect(() => lease.assertHeld()).toThrow(/expired/);
    await lease.stop();
  });
});

describe("processSyncBatch", () => {
  function deps(overrides: Partial<WorkerDeps> = {}) {
    const sent: QueueMessage[] = [];
    const dead: { body: string; reason: string }[] = [];
    const queue: SyncQueue = {
      async send(messages) {
        sent.push(...messages);
        return { failed: [], sendBatchCalls: 1 };
      },
    };
    const deadLetters: DeadLetterQueue = {
      async send(body, reason) {
        dead.push({ body, reason });
      },
    };
    const ensured: string[] = [];
    const repos = {
      sources: {
        list: async () => [
          { dataType: "users", referenceData: { syncable: true, syncType: "list" } },
          { dataType: "schema", referenceData: { syncable: true, syncType: "object" } },
          { dataType: "off", referenceData: { syncable: false, syncType: "list" } },
        ],
      },
      connections: {
        list: async () => [
          { connectionId: "a", status: "active" },
          { connectionId: "b", status: "revoked" },
        ],
      },
      partitions: {
        ensure: async (r: typeof ref) => {
          ensured.push(`${r.connectionId}/${r.dataType}`);
          return { created: r.dataType === "users" };
        },
      },
    } as unknown as Repositories;
    const value: WorkerDeps = {
      repos,
      gateway: { invoke: async () => ({ data: {}, meta: {} }) },
      queue,
      clock: { now: () => 0 },
      log,
      deadLetters,
      ...overrides,
    };
    return { value, sent, dead, ensured };
  }
  const invocation = (remainingMs: number) => ({ remainingMs: () => remainingMs, invocationId: "inv" });
  const syncBody = JSON.stringify({ v: 1, kind: "sync", ...ref, trigger: "manual" });

  it("hands a sync to a fresh invocation when too little time is left to start it", async () => {
    const { value, sent } = deps();
    const result = await processSyncBatch(value, [{ messageId: "m1", body: syncBody }], invocation(35_000));
    expect(result.results).toEqual([{ messageId: "m1", status: "deferred" }]);
    expect(result.batchItemFailures).toEqual([]);
    expect(sent).toEqual([JSON.parse(syncBody)]);
  });

  it("creates the partitions of a fan-out message: syncable sources × active connections", async () => {
    const { value, ensured } = deps();
    const body = JSON.stringify({ v: 1, kind: "fanout", tenantId: "t1", integrationId: "slack" });
    const result = await processSyncBatch(value, [{ messageId: "f1", body }], invocation(900_000));
    expect(result.results).toEqual([{ messageId: "f1", status: "fanout", created: 1, existing: 1 }]);
    expect(ensured.sort()).toEqual(["a/schema", "a/users"]);
  });

  it("leaves a malformed message to the redrive policy when no DLQ is configured", async () => {
    const { value } = deps({ deadLetters: undefined });
    const result = await processSyncBatch(value, [{ messageId: "x", body: "nope" }], invocation(900_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "x" }]);
  });

  it("retries a malformed message whose dead-lettering failed, instead of dropping it", async () => {
    const { value } = deps({
      deadLetters: {
        send: async () => {
          throw new Error("SQS down");
        },
      },
    });
    const result = await processSyncBatch(value, [{ messageId: "x", body: "{}" }], invocation(900_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "x" }]);
  });
});
