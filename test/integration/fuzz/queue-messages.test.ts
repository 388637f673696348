/**
 * Fuzzing the deployed sync-worker handler (functions/sync-worker) with SQS batches of random bodies: garbage text,
 * arbitrary JSON, and sync/fan-out messages with random fields changed or removed, mixed with valid ones, on dynalite,
 * fauxqs and the sample gateway. The handler never throws and never reports a batch item failure (nothing here is
 * transient); every malformed message lands on the DLQ exactly once with its body and a reason; nothing else is
 * dead-lettered without a reason; no promise is left rejected.
 */
import type { Context, SQSBatchResponse } from "aws-lambda";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES } from "../../../infra/local/sample-gateway/index.js";
import { queueMessageSchema } from "../../../shared/domain/sync-message.js";
import { lambdaContext } from "../../support/api-events.js";
import { sqsEvent, useWorldRuntime } from "../../support/reliability/handler-env.js";
import { freshWorld, type Servers, startServers, type World } from "../../support/sync-harness.js";

type WorkerHandler = (event: ReturnType<typeof sqsEvent>, context: Context) => Promise<SQSBatchResponse>;

const TENANT = "t-queue-fuzz";
const SYNC = { v: 1, tenantId: TENANT, integrationId: "slack", connectionId: "default", dataType: "users" };
const BASES: Record<string, Record<string, unknown>> = {
  sync: { ...SYNC, trigger: "event" },
  syncWithJob: { ...SYNC, kind: "sync", trigger: "schedule", jobId: "01JZZZZZZZZZZZZZZZZZZZZZZZ", force: true },
  continuation: { ...SYNC, trigger: "schedule", jobId: "01JZZZZZZZZZZZZZZZZZZZZZZY", continuation: { page: 2 } },
  otherTenant: { ...SYNC, tenantId: "t-nobody", trigger: "manual", mode: "full" },
  fanout: { v: 1, kind: "fanout", tenantId: TENANT, integrationId: "slack", connectionId: "default" },
};
const FIELDS = [
  "v",
  "kind",
  "tenantId",
  "integrationId",
  "connectionId",
  "dataType",
  "mode",
  "trigger",
  "jobId",
  "force",
  "continuation",
  "reconcile",
  "extra",
];

/**
 * What a queue can carry: SQS allows #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF, fauxqs 1.9 only
 * the BMP part (it refuses emoji), so only BMP text is generated: such a message could not have reached the worker.
 */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]+$/;

const suspicious = fc.constantFrom(
  "",
  "a#b",
  "sync",
  "sources",
  "T#other",
  "x".repeat(129),
  "../../etc",
  "01J!",
  "é",
  "0",
  -1,
  1.5,
  2,
  true,
  null,
  [],
  {},
  { page: -1 },
  { page: "2" },
  "full",
  "incremental",
  "schedule",
);
const value = fc.oneof(suspicious, fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 70 }));

const body = fc
  .oneof(
    { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 120 }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((json) => JSON.stringify(json) ?? "null") },
    {
      weight: 6,
      arbitrary: fc
        .record({
          base: fc.constantFrom(...Object.keys(BASES)),
          set: fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 2 }),
          drop: fc.subarray(FIELDS, { maxLength: 2 }),
        })
        .map(({ base, set, drop }) => {
          const message: Record<string, unknown> = { ...BASES[base], ...set };
          for (const field of drop) delete message[field];
          return JSON.stringify(message);
        }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...Object.values(BASES).map((message) => JSON.stringify(message))) },
  )
  .filter((text) => SQS_TEXT.test(text) && Buffer.byteLength(text) < 256 * 1024);

function isMalformed(text: string): boolean {
  try {
    return !queueMessageSchema.safeParse(JSON.parse(text)).success;
  } catch {
    return true;
  }
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

let servers: Servers;
let world: World;
let restore: () => void;
let handler: WorkerHandler;

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  servers = await startServers();
  world = await freshWorld(servers);
  const users = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === "users");
  if (!users) throw new Error("no sample Slack users source");
  await world.seed({
    tenantId: TENANT,
    integrationId: "slack",
    sources: [
      { integrationSlug: users.integrationSlug, actionSlug: users.actionSlug, referenceData: users.referenceData },
    ],
  });
  restore = useWorldRuntime(world);
  handler = (await import("../../../functions/sync-worker/handler.js")).handler as unknown as WorkerHandler;
});
afterEach(() => {
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  restore?.();
  await servers?.stop();
});

/** Runs one batch through the handler and checks what reached the DLQ. */
async function deliver(bodies: string[]): Promise<{ deadLettered: number }> {
  const response = await handler(sqsEvent(bodies), lambdaContext(300_000));
  expect(response.batchItemFailures, "nothing here is transient").toEqual([]);
  const letters = await world.takeDeadLetters();
  for (const letter of letters) {
    expect(letter.reason, letter.body).toEqual(expect.stringMatching(/\S/));
    expect(bodies, "only messages of this batch are dead-lettered").toContain(letter.body);
  }
  const malformed = bodies.filter(isMalformed);
  for (const text of new Set(malformed)) {
    const sent = letters.filter((letter) => letter.body === text);
    expect(sent.length, `malformed message dead-lettered once per copy: ${text.slice(0, 80)}`).toBe(
      malformed.filter((other) => other === text).length,
    );
    for (const letter of sent) expect(letter.reason).toMatch(/not valid JSON|invalid message/);
  }
  expect(letters.length).toBeLessThanOrEqual(bodies.length);
  return { deadLettered: letters.length };
}

describe("the sync-worker handler under random queue messages", () => {
  it("dead-letters malformed messages with their reason and syncs the valid one in the same batch", async () => {
    const bodies = ["{not json", JSON.stringify({ ...BASES.sync, dataType: "a#b" }), JSON.stringify(BASES.sync)];

    const { deadLettered } = await deliver(bodies);

    expect(deadLettered).toBe(2);
    const partition = await world.partition({ ...SYNC, connectionId: "default" });
    expect(partition).toMatchObject({ status: "idle", lastJobStatus: "completed" });
  });

  it("never throws, never reports a failure, and dead-letters every malformed message (property)", async () => {
    let malformed = 0;
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 6 }), async (bodies) => {
        malformed += bodies.filter(isMalformed).length;
        valid += bodies.filter((text) => !isMalformed(text)).length;
        await deliver(bodies);
      }),
      { numRuns: 60, seed: 4_242, endOnFailure: true },
    );
    // Both kinds really were exercised.
    expect(malformed).toBeGreaterThan(50);
    expect(valid).toBeGreaterThan(10);
    const partition = await world.partition({ ...SYNC, connectionId: "default" });
    expect(["idle", "failed"]).toContain(partition.status);
  });
});
