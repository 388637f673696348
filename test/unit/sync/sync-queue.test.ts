import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { QueueMessage } from "../../../shared/domain/sync-message.js";
import { createSqsSyncQueue } from "../../../shared/sync/sync-queue.js";

const sqsMock = mockClient(SQSClient);
const noSleep = async () => {};

const message = (i: number): QueueMessage => ({
  v: 1,
  kind: "sync",
  tenantId: `tenant${i % 3}`,
  integrationId: "slack",
  connectionId: "default",
  dataType: "users",
  trigger: "schedule",
  jobId: `JOB${i}`,
});

describe("createSqsSyncQueue", () => {
  beforeEach(() => sqsMock.reset());

  it("sends in batches of ten with the tenant as message group", async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const queue = createSqsSyncQueue(new SQSClient({ region: "us-east-1" }), "https://q", { sleep: noSleep });

    const result = await queue.send(
      Array.from({ length: 23 }, (_, i) => message(i)),
      { delaySeconds: 30 },
    );

    expect(result).toEqual({ failed: [], sendBatchCalls: 3 });
    const calls = sqsMock.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    const first = calls[0]?.args[0].input.Entries?.[1];
    expect(first?.MessageGroupId).toBe("tenant1");
    expect(first?.DelaySeconds).toBe(30);
    expect(JSON.parse(first?.MessageBody ?? "{}")).toMatchObject({ jobId: "JOB1" });
  });

  it("retries failed entries, not the ones SQS blames on the sender", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Failed: [
          { Id: "m0", SenderFault: false, Code: "InternalError" },
          { Id: "m1", SenderFault: true, Code: "InvalidMessageContents" },
        ],
      })
      .resolves({ Failed: [] });
    const queue = createSqsSyncQueue(new SQSClient({ region: "us-east-1" }), "https://q", { sleep: noSleep });

    const result = await queue.send([message(0), message(1), message(2)]);

    expect(result.failed.map((m) => (m.kind === "sync" ? m.jobId : ""))).toEqual(["JOB1"]);
    expect(result.sendBatchCalls).toBe(2);
    const retry = sqsMock.commandCalls(SendMessageBatchCommand)[1]?.args[0].input.Entries ?? [];
    expect(retry.map((e) => e.Id)).toEqual(["m0"]);
  });

  it("returns what it could not send after every attempt instead of throwing", async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(new Error("network down"));
    const queue = createSqsSyncQueue(new SQSClient({ region: "us-east-1" }), "https://q", {
      sleep: noSleep,
      maxAttempts: 3,
    });

    const result = await queue.send([message(0), message(1)]);

    expect(result.failed).toHaveLength(2);
    expect(result.sendBatchCalls).toBe(3);
  });

  it("can leave MessageGroupId out for queues that reject it", async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [] });
    const queue = createSqsSyncQueue(new SQSClient({ region: "us-east-1" }), "https://q", { messageGroupIds: false });
    await queue.send([message(0)]);
    expect(
      sqsMock.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0]?.MessageGroupId,
    ).toBeUndefined();
  });
});
