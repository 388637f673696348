import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { itemStatusSchema } from "../../../shared/domain/entities.js";
import { InternalError, NotFoundError, ValidationError } from "../../../shared/domain/errors.js";
import { BatchWriteIncompleteError, batchWriteAll, type WriteRequest } from "../../../shared/storage/batch-write.js";
import { decodeManifest, encodeManifest } from "../../../shared/storage/manifest-repository.js";
import type { Manifest } from "../../../shared/storage/ports.js";
import { checkLimit, checkStartKey, parseRow, stripRow, UpdateBuilder } from "../../../shared/storage/rows.js";

const ddbMock = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const puts = (n: number): WriteRequest[] =>
  Array.from({ length: n }, (_, i) => ({ PutRequest: { Item: { PK: "p", SK: `s${i}` } } }));

describe("batchWriteAll", () => {
  afterEach(() => ddbMock.reset());

  it("splits requests into batches of 25", async () => {
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
    expect(await batchWriteAll(doc, "t", puts(51), { sleep: async () => {} })).toEqual({ requests: 3 });
    const sizes = ddbMock.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.t?.length);
    expect(sizes.sort()).toEqual([1, 25, 25]);
  });

  it("resends only the unprocessed requests", async () => {
    ddbMock
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { t: [{ PutRequest: { Item: { PK: "p", SK: "s3" } } }] } })
      .resolves({ UnprocessedItems: {} });
    expect(await batchWriteAll(doc, "t", puts(5), { sleep: async () => {} })).toEqual({ requests: 2 });
    const second = ddbMock.commandCalls(BatchWriteCommand)[1]?.args[0].input.RequestItems?.t;
    expect(second).toEqual([{ PutRequest: { Item: { PK: "p", SK: "s3" } } }]);
  });

  it("throws a retryable InternalError subclass after maxAttempts", async () => {
    ddbMock
      .on(BatchWriteCommand)
      .resolves({ UnprocessedItems: { t: [{ PutRequest: { Item: { PK: "p", SK: "s0" } } }] } });
    const attempt = batchWriteAll(doc, "t", puts(1), { maxAttempts: 8, sleep: async () => {} });
    await expect(attempt).rejects.toBeInstanceOf(BatchWriteIncompleteError);
    await expect(attempt).rejects.toBeInstanceOf(InternalError);
    expect(ddbMock.commandCalls(BatchWriteCommand)).toHaveLength(8);
  });
});

describe("manifest encoding", () => {
  it("round-trips every status", () => {
    const manifest: Manifest = new Map([
      ["a", { hash: "1", status: "active" }],
      ["b", { hash: "2", status: "inactive" }],
      ["c#d", { hash: "3", status: "deleted" }],
    ]);
    const encoded = encodeManifest(manifest);
    expect(encoded.e).toEqual([
      ["a", "1", "a"],
      ["b", "2", "i"],
      ["c#d", "3", "d"],
    ]);
    expect(decodeManifest(JSON.parse(JSON.stringify(encoded)))).toEqual(manifest);
  });

  it.each([
    ["null", null],
    ["an unknown version", { v: 2, e: [] }],
    ["an unknown status letter", { v: 1, e: [["a", "1", "x"]] }],
    ["a non-string hash", { v: 1, e: [["a", 1, "a"]] }],
    ["a non-array entry", { v: 1, e: ["a"] }],
  ])("rejects %s with NotFoundError so the engine falls back", (_what, value) => {
    expect(() => decodeManifest(value)).toThrow(NotFoundError);
  });
});

describe("row helpers", () => {
  it("strips key, index and entity attributes", () => {
    expect(stripRow({ PK: 1, SK: 2, GSI1PK: 3, GSI1SK: 4, entity: "x", name: "n" })).toEqual({ name: "n" });
  });

  it("parses rows, and reports a corrupt row as an InternalError", () => {
    const schema = z.object({ status: itemStatusSchema });
    expect(parseRow(schema, { PK: "p", SK: "s", status: "active" }, "item")).toEqual({ status: "active" });
    expect(() => parseRow(schema, { PK: "p", SK: "s", status: "zombie" }, "item")).toThrow(InternalError);
  });

  it.each([0, -1, 1.5, 1001, Number.NaN])("rejects limit %s", (limit) => {
    expect(() => checkLimit(limit)).toThrow(ValidationError);
  });

  it("accepts a start key with exactly the expected attributes", () => {
    expect(checkStartKey({ PK: "p", SK: "ITEM#a" }, { PK: "p" }, ["SK"], { SK: "ITEM#" })).toEqual({
      PK: "p",
      SK: "ITEM#a",
    });
    expect(checkStartKey(undefined, { PK: "p" }, ["SK"])).toBeUndefined();
  });

  it.each([
    ["another partition key", { PK: "q", SK: "ITEM#a" }],
    ["a missing attribute", { PK: "p" }],
    ["an extra attribute", { PK: "p", SK: "ITEM#a", x: "y" }],
    ["a non-string value", { PK: "p", SK: 5 }],
    ["another entity's sort key", { PK: "p", SK: "JOB#a" }],
  ])("rejects a start key with %s", (_what, startKey) => {
    expect(() => checkStartKey(startKey, { PK: "p" }, ["SK"], { SK: "ITEM#" })).toThrow(ValidationError);
  });

  it("builds SET and REMOVE clauses with aliased names", () => {
    const update = new UpdateBuilder().setAll({ status: "idle", name: "x", skipped: undefined }).remove("lease");
    expect(update.updateExpression).toBe("SET #status = :v0, #name = :v1 REMOVE #lease");
    expect(update.attributes).toEqual({
      ExpressionAttributeNames: { "#status": "status", "#name": "name", "#lease": "lease" },
      ExpressionAttributeValues: { ":v0": "idle", ":v1": "x" },
    });
    expect(new UpdateBuilder().remove("a").attributes).not.toHaveProperty("ExpressionAttributeValues");
  });
});
