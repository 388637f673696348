/**
 * The planner on a timer, as EventBridge runs it: alone (a recording handler) and inside the stack, where a
 * connection enrolled over HTTP gets its first sync from a scheduled run without anyone triggering it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { type PlannerTimer, type ScheduledEvent, startPlannerTimer } from "../../infra/local/planner-timer.js";
import { SAMPLE_SOURCES } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import { eventually } from "./support/eventually.js";
import { localApi, type StatusData, storeSampleGatewayKey } from "./support/local-api.js";

const log = createLogger({}, "silent");

describe("planner timer", () => {
  let timer: PlannerTimer | undefined;

  afterEach(async () => {
    await timer?.stop(1_000);
    timer = undefined;
  });

  it("invokes the planner with a scheduled event on every tick, never two runs at once", async () => {
    const calls: Array<{ event: ScheduledEvent; context: Context }> = [];
    let running = 0;
    let overlapped = false;
    timer = startPlannerTimer({
      intervalMs: 20,
      timeoutMs: 60_000,
      log,
      handler: async () => async (event, context) => {
        running++;
        overlapped ||= running > 1;
        calls.push({ event, context });
        // Slower than the tick: ticks that find a run in progress must be skipped, not stacked.
        await new Promise((resolve) => setTimeout(resolve, 50));
        running--;
        return { due: 0 };
      },
    });

    await eventually(async () => (calls.length >= 3 ? true : undefined), { what: "three planner runs" });
    expect(overlapped).toBe(false);
    const { event, context } = calls[0] as { event: ScheduledEvent; context: Context };
    expect(event).toMatchObject({ "detail-type": "Scheduled Event", source: "aws.events", detail: {} });
    expect(event.resources[0]).toMatch(/^arn:aws:events:us-east-1:\d{12}:rule\//);
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(context.functionName).toBe("planner");
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(60_000);
  });

  it("runs on demand after the run in progress and survives a failing run", async () => {
    const order: string[] = [];
    let call = 0;
    timer = startPlannerTimer({
      intervalMs: 3_600_000,
      timeoutMs: 60_000,
      log,
      handler: async () => async () => {
        const n = ++call;
        order.push(`start ${n}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        order.push(`end ${n}`);
        if (n === 1) throw new Error("DynamoDB unavailable");
        return n;
      },
    });

    const first = timer.runNow();
    const second = timer.runNow();
    await expect(first).rejects.toThrow("DynamoDB unavailable");
    await expect(second).resolves.toBe(2);
    expect(order).toEqual(["start 1", "end 1", "start 2", "end 2"]);
    expect(timer.runs()).toBe(2);
  });
});

describe("planner timer in the local stack", () => {
  let stack: LocalStack | undefined;
  let dataDir: string | undefined;

  afterEach(async () => {
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("gives a newly enrolled connection its first sync on a scheduled run, without a trigger", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-timer-"));
    stack = await startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      seedDemo: false,
      scheduleSeconds: 1,
      workerTimeoutSeconds: 60,
      logLevel: "warn",
      log,
    });
    const { key } = await stack.repos.apiKeys.create("acme", {
      name: "e2e",
      scopes: ["admin", "read"],
      now: Date.now(),
    });
    const running = stack;
    await storeSampleGatewayKey(stack, "acme");
    const api = localApi(() => running.apiUrl, key);
    const source = SAMPLE_SOURCES.find((s) => s.integrationId === "github");
    if (!source) throw new Error("no github sample source");
    await api("PUT", `/integrations/github/reference-data/sources/${source.dataType}`, {
      body: {
        integrationSlug: source.integrationSlug,
        actionSlug: source.actionSlug,
        referenceData: source.referenceData,
      },
    });
    expect((await api("PUT", "/integrations/github/connections/default")).status).toBe(201);

    const job = await eventually(
      async () => {
        const { body } = await api<StatusData>("GET", "/integrations/github/reference-data/sync/status");
        return body.data?.recentJobs.find((j) => j.status === "completed");
      },
      { attempts: 100, intervalMs: 100, what: "a scheduled sync completed" },
    );
    expect(job).toMatchObject({ dataType: "repositories", trigger: "schedule", itemsCreated: 12 });
  });
});
