import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDynamo, type TestDynamo } from "../support/dynamo.js";
import { startSqs, type TestSqs } from "../support/sqs.js";

describe("test protocol servers", () => {
  let dynamo: TestDynamo;
  let queue: TestSqs;
  beforeAll(async () => {
    [dynamo, queue] = await Promise.all([startDynamo(), startSqs()]);
  });
  afterAll(async () => {
    await Promise.all([dynamo.stop(), queue.stop()]);
  });

  it("creates a table from the shared definition that round-trips an item", async () => {
    const table = await dynamo.createTable();
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { PK: "a", SK: "b", value: 1 } }));
    const read = await dynamo.doc.send(new GetCommand({ TableName: table, Key: { PK: "a", SK: "b" } }));
    expect(read.Item?.value).toBe(1);
  });

  it("creates a queue that delivers a sent message", async () => {
    const { queueUrl } = await queue.createQueues();
    await queue.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "hello" }));
    const received = await queue.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
    expect(received.Messages?.[0]?.Body).toBe("hello");
  });
});
