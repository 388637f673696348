/**
 * The local stack's DynamoDB on a data directory: a table kept from an older version that lacks one of the table's
 * indexes (dynalite cannot add one to an existing table) is refused with a message naming the index and the way out,
 * instead of a stack whose planner fails on every run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalDynamo } from "../../../infra/local/dynamo-server.js";
import { createTableInput, TABLE_DEFINITION } from "../../../shared/storage/table.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Creates `tableName` in a fresh data directory as the version before the paused index did: GSI1 only. */
async function olderDataDirectory(tableName: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "rds-local-dynamo-"));
  dirs.push(dir);
  const server: Server = dynalite({ path: dir, createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const input = createTableInput(tableName);
    const { pausedIndex } = TABLE_DEFINITION;
    await client.send(
      new CreateTableCommand({
        ...input,
        AttributeDefinitions: input.AttributeDefinitions?.filter(
          (a) => a.AttributeName !== pausedIndex.partitionKey && a.AttributeName !== pausedIndex.sortKey,
        ),
        GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.filter((index) => index.IndexName !== pausedIndex.name),
      }),
    );
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return dir;
}

describe("local DynamoDB", () => {
  it("refuses a data directory whose table lacks the paused index, naming it", async () => {
    const path = await olderDataDirectory("refdata");
    await expect(startLocalDynamo({ port: 0, path, tableName: "refdata" })).rejects.toThrow(
      /without the GSI2 index .*delete the data directory/,
    );
  });

  it("creates the table with every index in a new data directory, and opens it again", async () => {
    const path = mkdtempSync(join(tmpdir(), "rds-local-dynamo-"));
    dirs.push(path);
    const first = await startLocalDynamo({ port: 0, path, tableName: "refdata" });
    expect(first.createdTable).toBe(true);
    await first.stop();
    const second = await startLocalDynamo({ port: 0, path, tableName: "refdata" });
    expect(second.createdTable).toBe(false);
    await second.stop();
  });
});
