/**
 * Graceful shutdown loses nothing: a sync in flight when the stack stops finishes before the stack is down, and a
 * sync whose message was still waiting in the embedded SQS (which keeps nothing across restarts) runs after the next
 * start, because the startup planner pass takes over every `queued` partition.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import { eventually } from "./support/eventually.js";
import {
  type ApiCall,
  localApi,
  type StatusData,
  storeSampleGatewayKey,
  type TriggerData,
} from "./support/local-api.js";

const SLACK = "/integrations/slack/reference-data";

describe("local stack shutdown and restart", () => {
  let dataDir: string;
  let stack: LocalStack | undefined;

  const start = (overrides: Partial<LocalStackOptions> = {}) =>
    startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      seedDemo: false,
      scheduleSeconds: 3600,
      workerTimeoutSeconds: 60,
      shutdownGraceMs: 20_000,
      logLevel: "warn",
      log: createLogger({}, "silent"),
      ...overrides,
    });

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-shutdown-"));
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("finishes the sync in flight on stop and runs the one still queued after the restart", async () => {
    // One sync at a time, each gateway call slow: one partition syncs while the other's message waits in the queue.
    stack = await start({ workerBatchSize: 1, workerConcurrency: 1, sampleGateway: { latencyMs: 1_500 } });
    const { key } = await stack.repos.apiKeys.create("acme", {
      name: "e2e",
      scopes: ["read", "sync", "admin"],
      now: Date.now(),
    });
    let current: LocalStack = stack;
    await storeSampleGatewayKey(stack, "acme");
    const api: ApiCall = localApi(() => current.apiUrl, key);
    for (const source of SAMPLE_SOURCES.filter((s) => s.integrationId === "slack")) {
      const saved = await api("PUT", `${SLACK}/sources/${source.dataType}`, {
        body: {
          integrationSlug: source.integrationSlug,
          actionSlug: source.actionSlug,
          referenceData: source.referenceData,
        },
      });
      expect(saved.status, saved.text).toBe(201);
    }
    expect((await api("PUT", "/integrations/slack/connections/default")).status).toBe(201);
    const trigger = await api<TriggerData>("POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status, trigger.text).toBe(202);
    const jobIds = (trigger.body.data?.jobs ?? []).map((job) => job.jobId as string);

    const inFlight = await eventually(
      async () => {
        const { body } = await api<StatusData>("GET", `${SLACK}/sync/status`);
        const jobs = body.data?.recentJobs ?? [];
        const syncing = jobs.find((job) => job.status === "syncing");
        const waiting = jobs.find((job) => job.status === "pending");
        return syncing && waiting ? { syncing, waiting } : undefined;
      },
      { attempts: 200, intervalMs: 25, what: "one job syncing while the other waits" },
    );

    await stack.stop();
    stack = await start();
    current = stack;

    const finished = await eventually(
      async () => {
        const { body } = await api<StatusData>("GET", `${SLACK}/sync/status?limit=20`);
        const partitions = body.data?.dataTypes ?? [];
        // The partition flips before its job is marked completed: wait for both.
        const settled = (body.data?.recentJobs ?? []).every((j) => j.status === "completed" || j.status === "failed");
        const done = settled && partitions.length === 2 && partitions.every((p) => p.lastJobStatus === "completed");
        return done ? body.data : undefined;
      },
      { attempts: 150, intervalMs: 100, what: "both partitions synced after the restart" },
    );
    const job = (id: string) => finished.recentJobs.find((j) => j.jobId === id);
    // The sync in flight at stop completed under its own job, within the shutdown grace period.
    expect(job(inFlight.syncing.jobId)?.status).toBe("completed");
    expect(jobIds).toContain(inFlight.syncing.jobId);
    // The waiting one lost its message with the embedded SQS; a job of the startup pass synced the partition.
    const waitingType = inFlight.waiting.dataType;
    const completedForWaiting = finished.recentJobs.filter(
      (j) => j.dataType === waitingType && j.status === "completed",
    );
    expect(completedForWaiting).toHaveLength(1);
    expect(job(inFlight.waiting.jobId)?.status).toBe("failed");
    for (const partition of finished.dataTypes) expect(partition.itemCount).toBeGreaterThan(0);
  });
});
