/**
 * The local event source mapping against a real SQS protocol server (fauxqs, started here on loopback): what the
 * sync worker receives, and what happens to each message after the handler answers, throws or times out.
 */
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSRecord } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  interpretBatchResponse,
  type SqsHandler,
  type SqsPoller,
  startSqsPoller,
} from "../../infra/local/sqs-poller.js";
import { type LocalSqs, startLocalSqs } from "../../infra/local/sqs-server.js";
import { createLogger } from "../../shared/log.js";
import { eventually } from "./support/eventually.js";

const log = createLogger({ test: "sqs-poller" }, "silent");
let queueCounter = 0;

interface Delivery {
  record: SQSRecord;
  context: Context;
}

describe("SQS poller (local event source mapping)", () => {
  let sqs: LocalSqs;
  let poller: SqsPoller | undefined;

  beforeEach(async () => {
    // Visibility timeout 0: a message that is not deleted is visible again at once, so retries need no waiting.
    sqs = await startLocalSqs({ port: 0, queueName: `poller-${++queueCounter}`, visibilityTimeoutSeconds: 0 });
  });

  afterEach(async () => {
    await poller?.stop(5_000);
    poller = undefined;
    await sqs.stop();
  });

  const start = (handler: SqsHandler, options: { timeoutMs?: number; batchSize?: number } = {}) => {
    poller = startSqsPoller({
      sqs: sqs.sqs,
      queueUrl: sqs.queueUrl,
      queueArn: sqs.queueArn,
      handler,
      batchSize: options.batchSize ?? 10,
      timeoutMs: options.timeoutMs ?? 30_000,
      concurrency: 1,
      waitTimeSeconds: 1,
      log,
    });
    return poller;
  };

  const send = async (...bodies: string[]) => {
    await sqs.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: sqs.queueUrl,
        Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  };

  const visibleCount = async (queueUrl: string) => {
    const { Attributes } = await sqs.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  };

  it("delivers a batch as Lambda's SQS event with a counting-down context and deletes the records it handled", async () => {
    const deliveries: Delivery[] = [];
    await sqs.sqs.send(
      new SendMessageCommand({
        QueueUrl: sqs.queueUrl,
        MessageBody: '{"v":1}',
        MessageAttributes: { reason: { DataType: "String", StringValue: "test" } },
      }),
    );
    start(
      async (event, context) => {
        for (const record of event.Records) deliveries.push({ record, context });
        return { batchItemFailures: [] };
      },
      { timeoutMs: 60_000 },
    );

    await eventually(async () => (deliveries.length === 1 ? true : undefined), { what: "one delivery" });
    const { record, context } = deliveries[0] as Delivery;
    expect(record).toMatchObject({
      body: '{"v":1}',
      eventSource: "aws:sqs",
      eventSourceARN: sqs.queueArn,
      awsRegion: "us-east-1",
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: { reason: { stringValue: "test", dataType: "String" } },
    });
    expect(record.messageId).not.toBe("");
    expect(record.receiptHandle).not.toBe("");
    expect(record.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(context.functionName).toBe("sync-worker");
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    const remaining = context.getRemainingTimeInMillis();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(60_000);
    await eventually(async () => ((await visibleCount(sqs.queueUrl)) === 0 ? true : undefined), {
      what: "the handled message deleted",
    });
    expect(poller?.stats.deleted).toBe(1);
  });

  it("deletes only the successful records of a partial batch failure and redelivers the failed one", async () => {
    const seen: Array<{ body: string; receiveCount: string }> = [];
    let failedOnce = false;
    start(async (event): Promise<SQSBatchResponse> => {
      const failures: SQSBatchResponse["batchItemFailures"] = [];
      for (const record of event.Records) {
        seen.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
        if (record.body === "b" && !failedOnce) {
          failedOnce = true;
          failures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures: failures };
    });
    await send("a", "b", "c");

    await eventually(async () => (seen.filter((s) => s.body === "b").length === 2 ? true : undefined), {
      what: "b redelivered",
    });
    await eventually(async () => ((await visibleCount(sqs.queueUrl)) === 0 ? true : undefined), {
      what: "queue empty",
    });
    expect(seen.filter((s) => s.body === "a")).toHaveLength(1);
    expect(seen.filter((s) => s.body === "c")).toHaveLength(1);
    expect(seen.filter((s) => s.body === "b").map((s) => s.receiveCount)).toEqual(["1", "2"]);
  });

  it("retries the whole batch when the handler throws", async () => {
    const seen: string[] = [];
    let calls = 0;
    start(async (event) => {
      calls++;
      for (const record of event.Records) seen.push(`${record.body}@${record.attributes.ApproximateReceiveCount}`);
      if (calls === 1) throw new Error("DynamoDB is throttling");
    });
    await send("a", "b");

    await eventually(async () => ((await visibleCount(sqs.queueUrl)) === 0 && seen.length >= 4 ? true : undefined), {
      what: "batch retried and then deleted",
    });
    expect(seen.sort()).toEqual(["a@1", "a@2", "b@1", "b@2"]);
    expect(poller?.stats.errors).toBe(1);
  });

  it("treats a batchItemFailures entry naming an unknown message as a failure of the whole batch", async () => {
    const seen: string[] = [];
    let calls = 0;
    start(async (event) => {
      calls++;
      for (const record of event.Records) seen.push(`${record.body}@${record.attributes.ApproximateReceiveCount}`);
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier: "not-in-this-batch" }] } : undefined;
    });
    await send("a");

    await eventually(async () => ((await visibleCount(sqs.queueUrl)) === 0 && seen.length >= 2 ? true : undefined), {
      what: "batch retried",
    });
    expect(seen).toEqual(["a@1", "a@2"]);
  });

  it("moves a message that keeps failing to the DLQ after five receives", async () => {
    const receiveCounts: string[] = [];
    start(async (event) => ({
      batchItemFailures: event.Records.map((record) => {
        receiveCounts.push(record.attributes.ApproximateReceiveCount);
        return { itemIdentifier: record.messageId };
      }),
    }));
    await send("poison");

    await eventually(async () => ((await visibleCount(sqs.dlqUrl)) === 1 ? true : undefined), {
      what: "message in the DLQ",
    });
    const inDlq = await sqs.sqs.send(new ReceiveMessageCommand({ QueueUrl: sqs.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(inDlq.Messages?.map((m) => m.Body)).toEqual(["poison"]);
    expect(receiveCounts).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("counts a handler that outlives its timeout as a failed batch and retries it", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: string[] = [];
    start(
      async (event) => {
        const first = seen.length === 0;
        for (const record of event.Records) seen.push(record.attributes.ApproximateReceiveCount);
        // The first invocation hangs until the test releases it, long after its 150 ms timeout.
        if (first) await gate;
      },
      { timeoutMs: 150 },
    );
    await send("slow");

    await eventually(async () => ((await visibleCount(sqs.queueUrl)) === 0 && seen.length >= 2 ? true : undefined), {
      what: "timed-out batch redelivered and handled",
    });
    release();
    expect(seen.slice(0, 2)).toEqual(["1", "2"]);
    expect(poller?.stats.timeouts).toBe(1);
  });

  it("lets an in-flight invocation finish on stop and still deletes what it handled", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const running = start(async () => {
      started = true;
      await gate;
    });
    await send("in-flight");
    await eventually(async () => (started ? true : undefined), { what: "handler started" });

    const stopping = running.stop(10_000);
    expect(running.inFlight()).toBe(1);
    release();
    await expect(stopping).resolves.toEqual({ drained: true });
    poller = undefined;
    expect(await visibleCount(sqs.queueUrl)).toBe(0);
    expect(running.stats.deleted).toBe(1);
  });

  it("reports an undrained stop when an invocation outlasts the grace period", async () => {
    let started = false;
    let release: () => void = () => undefined;
    const running = start(
      () =>
        new Promise<undefined>((resolve) => {
          started = true;
          release = () => resolve(undefined);
        }),
    );
    await send("stuck");
    await eventually(async () => (started ? true : undefined), { what: "handler started" });

    await expect(running.stop(50)).resolves.toEqual({ drained: false });
    release();
    poller = undefined;
  });
});

describe("interpretBatchResponse (Lambda's ReportBatchItemFailures rules)", () => {
  const records = ["m1", "m2", "m3"].map((messageId) => ({ messageId }) as SQSRecord);
  const ids = (list: SQSRecord[]) => list.map((r) => r.messageId);

  it("treats no response, a null list and an empty list as complete success", () => {
    expect(ids(interpretBatchResponse(records, undefined).succeeded)).toEqual(["m1", "m2", "m3"]);
    expect(ids(interpretBatchResponse(records, { batchItemFailures: null }).succeeded)).toEqual(["m1", "m2", "m3"]);
    expect(ids(interpretBatchResponse(records, { batchItemFailures: [] }).succeeded)).toEqual(["m1", "m2", "m3"]);
  });

  it("keeps the named records and succeeds the others", () => {
    const verdict = interpretBatchResponse(records, { batchItemFailures: [{ itemIdentifier: "m2" }] });
    expect(ids(verdict.succeeded)).toEqual(["m1", "m3"]);
    expect(verdict.malformed).toBeUndefined();
  });

  it("fails the whole batch for an empty, missing or unknown identifier, or a non-list", () => {
    for (const response of [
      { batchItemFailures: [{ itemIdentifier: "" }] },
      { batchItemFailures: [{}] },
      { batchItemFailures: [{ itemIdentifier: "m9" }] },
      { batchItemFailures: "m1" },
      "ok",
    ]) {
      const verdict = interpretBatchResponse(records, response);
      expect(verdict.succeeded).toEqual([]);
      expect(verdict.malformed).toBeTypeOf("string");
    }
  });
});
