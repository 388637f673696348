/**
 * The local stack's DynamoDB on a data directory: a table kept from an older version that lacks one of the table's
 * indexes (dynalite cannot add one to an existing table) is upgraded at start, every row kept, its paused partitions
 * entered in the paused index; an upgrade interrupted halfway is finished by the next start, never losing a row.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import dynalite from "dynalite";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalDynamo } from "../../../infra/local/dynamo-server.js";
import { keys } from "../../../shared/storage/keys.js";
import { createTableInput, TABLE_DEFINITION } from "../../../shared/storage/table.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const ref = { tenantId: "acme", integrationId: "slack", connectionId: "conn-1", dataType: "users" };

/** Rows as an older version wrote them: a paused partition without a paused-index entry, an item, a job. */
const olderRows = [
  { ...keys.partition(ref), entity: "partition", ...ref, status: "paused", pauseReason: "credentials" },
  {
    ...keys.partition({ ...ref, dataType: "channels" }),
    entity: "partition",
    ...ref,
    dataType: "channels",
    status: "idle",
  },
  ...Array.from({ length: 60 }, (_, i) => ({ ...keys.item(ref, `u${i}`), entity: "item", name: `User ${i}` })),
];

/** dynalite on `dir`, a client for it, and a way to stop both. */
async function openDirectory(
  dir: string,
  deleteTableMs = 0,
): Promise<{ client: DynamoDBDocumentClient; close(): Promise<void> }> {
  const server: Server = dynalite({ path: dir, createTableMs: 0, deleteTableMs });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  );
  return {
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function scanAll(client: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    rows.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows;
}

/** Creates a table and waits until it is ACTIVE: dynalite creates tables asynchronously, even with createTableMs 0. */
async function createActiveTable(client: DynamoDBDocumentClient, input: CreateTableCommandInput): Promise<void> {
  await client.send(new CreateTableCommand(input));
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`table ${input.TableName} not ACTIVE after 2 s`);
}

/** Creates `tableName` in a fresh data directory as the version before the paused index did (GSI1 only), with rows. */
async function olderDataDirectory(tableName: string, rows: Record<string, unknown>[] = []): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "rds-local-dynamo-"));
  dirs.push(dir);
  const { client, close } = await openDirectory(dir);
  try {
    const input = createTableInput(tableName);
    const { pausedIndex } = TABLE_DEFINITION;
    await createActiveTable(client, {
      ...input,
      AttributeDefinitions: input.AttributeDefinitions?.filter(
        (a) => a.AttributeName !== pausedIndex.partitionKey && a.AttributeName !== pausedIndex.sortKey,
      ),
      GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.filter((index) => index.IndexName !== pausedIndex.name),
    });
    for (const row of rows) await client.send(new PutCommand({ TableName: tableName, Item: row }));
  } finally {
    await close();
  }
  return dir;
}

async function pausedEntries(client: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const { pausedIndex } = TABLE_DEFINITION;
  const entry = keys.paused(ref, "credentials");
  const page = await client.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: pausedIndex.name,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": pausedIndex.partitionKey },
      ExpressionAttributeValues: { ":pk": entry.GSI2PK },
    }),
  );
  return page.Items ?? [];
}

/**
 * Deletes `tableName` as a start stopped mid-delete leaves it: dynalite marks the table DELETING and clears its rows
 * at once, and removes the table itself only after `deleteTableMs` — which never comes, as the server closes first.
 */
async function leaveDeleting(path: string, tableName: string): Promise<void> {
  const { client, close } = await openDirectory(path, 60_000);
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.TableStatus).toBe("DELETING");
  } finally {
    await close();
  }
}

/** Starts the local DynamoDB on `path` once, then reads back what the start left: tables, indexes, rows, paused entries. */
async function startAndRead(path: string) {
  const dynamo = await startLocalDynamo({ port: 0, path, tableName: "refdata" });
  await dynamo.stop();
  const { client, close } = await openDirectory(path);
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: "refdata" }));
    return {
      started: { createdTable: dynamo.createdTable, upgradedRows: dynamo.upgradedRows },
      tables: (await client.send(new ListTablesCommand({}))).TableNames,
      indexes: Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort(),
      rows: await scanAll(client, "refdata"),
      paused: await pausedEntries(client, "refdata"),
    };
  } finally {
    await close();
  }
}

/** What every finished upgrade of `olderRows` leaves: one current table, every row, the paused partition indexed. */
const upgraded = {
  started: { createdTable: false, upgradedRows: olderRows.length },
  tables: ["refdata"],
  indexes: ["GSI1", "GSI2"],
  rows: expect.toSatisfy((rows: unknown[]) => rows.length === olderRows.length),
  // The paused partition is counted by the gauge now; the idle one is not in the index.
  paused: [{ ...keys.partition(ref), ...keys.paused(ref, "credentials") }],
};

describe("local DynamoDB", () => {
  it("upgrades a data directory whose table lacks the paused index, keeping every row", async () => {
    const path = await olderDataDirectory("refdata", olderRows);
    expect(await startAndRead(path)).toEqual(upgraded);
  });

  it("finishes an upgrade interrupted after the old table was deleted, from the holding table", async () => {
    const path = await olderDataDirectory("refdata-upgrading", olderRows);
    expect(await startAndRead(path)).toEqual(upgraded);
  });

  it("finishes an upgrade stopped while the old table was being deleted (left DELETING), from the holding table", async () => {
    const path = await olderDataDirectory("refdata", olderRows);
    {
      const { client, close } = await openDirectory(path);
      try {
        await createActiveTable(client, createTableInput("refdata-upgrading"));
        for (const row of olderRows) await client.send(new PutCommand({ TableName: "refdata-upgrading", Item: row }));
      } finally {
        await close();
      }
    }
    await leaveDeleting(path, "refdata");
    expect(await startAndRead(path)).toEqual(upgraded);
  });

  it("finishes an upgrade stopped while the holding table was being deleted (left DELETING)", async () => {
    const path = mkdtempSync(join(tmpdir(), "rds-local-dynamo-"));
    dirs.push(path);
    {
      // The copy back was complete: the table is current and full, the holding table is on its way out.
      const { client, close } = await openDirectory(path);
      try {
        await createActiveTable(client, createTableInput("refdata"));
        await createActiveTable(client, createTableInput("refdata-upgrading"));
        for (const row of olderRows) {
          const item = row === olderRows[0] ? { ...row, ...keys.paused(ref, "credentials") } : row;
          await client.send(new PutCommand({ TableName: "refdata", Item: item }));
          await client.send(new PutCommand({ TableName: "refdata-upgrading", Item: item }));
        }
      } finally {
        await close();
      }
    }
    await leaveDeleting(path, "refdata-upgrading");
    const state = await startAndRead(path);
    expect(state).toEqual({ ...upgraded, started: { createdTable: false, upgradedRows: 0 } });
  });

  it("restarts an upgrade interrupted while copying out: the old table is the truth, the holding table is dropped", async () => {
    const path = await olderDataDirectory("refdata", olderRows);
    // A holding table with only part of the rows, as a start killed mid-copy leaves it.
    const { client, close } = await openDirectory(path);
    try {
      await createActiveTable(client, createTableInput("refdata-upgrading"));
      await client.send(new PutCommand({ TableName: "refdata-upgrading", Item: olderRows[2]! }));
    } finally {
      await close();
    }
    expect(await startAndRead(path)).toEqual(upgraded);
  });

  it("creates the table with every index in a new data directory, and opens it again", async () => {
    const path = mkdtempSync(join(tmpdir(), "rds-local-dynamo-"));
    dirs.push(path);
    const first = await startLocalDynamo({ port: 0, path, tableName: "refdata" });
    expect(first.createdTable).toBe(true);
    expect(first.upgradedRows).toBe(0);
    await first.stop();
    const second = await startLocalDynamo({ port: 0, path, tableName: "refdata" });
    expect(second.createdTable).toBe(false);
    await second.stop();
  });
});
