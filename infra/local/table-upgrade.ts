/**
 * Brings a local table kept in a data directory up to the current definition (shared/storage/table.ts). dynalite
 * cannot add an index to an existing table, so an older table's rows move through a holding table: copied out, the
 * table dropped and created anew, copied back, the holding table dropped. Every step can be repeated, and a start
 * interrupted halfway finishes the upgrade at the next one without losing a row:
 *
 * - holding table, no table (or one left DELETING: dynalite marks it so before clearing it): the table was dropped
 *   after a full copy out — create it and copy back;
 * - holding table, table with every index: the copy back was cut short — copy back again (puts are idempotent);
 * - holding table left DELETING: the copy back was complete — finish deleting it;
 * - holding table, an ACTIVE table lacking an index: the copy out was cut short — the table is the truth, start again.
 *
 * A table left CREATING by a start stopped within the moment dynalite takes to create one stays so (dynalite cannot
 * delete it either): the start then fails naming it, and the rows are still in the other table of the directory.
 *
 * Partitions paused before the paused index existed get their entry on the way, as `ops partition reindex-paused`
 * gives them in AWS.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";
import { keys } from "../../shared/storage/keys.js";
import { createTableInput, TABLE_DEFINITION } from "../../shared/storage/table.js";

export interface TableReady {
  /** Whether this start created the table (a first start, or a wiped data directory). */
  createdTable: boolean;
  /** Rows carried over by an upgrade (0 when the table was current). */
  upgradedRows: number;
}

/** The holding table of an upgrade of `tableName`. */
export const holdingTableName = (tableName: string): string => `${tableName}-upgrading`;

/** Creates the table if missing and upgrades one made by an older version. */
export async function ensureCurrentTable(client: DynamoDBClient, tableName: string): Promise<TableReady> {
  const holding = holdingTableName(tableName);
  const table = await settled(client, tableName);
  if (await settled(client, holding)) {
    if (table && missingIndexes(table).length > 0) {
      await dropTable(client, holding);
    } else {
      if (!table) await createTable(client, tableName);
      return { createdTable: false, upgradedRows: await finishUpgrade(client, holding, tableName) };
    }
  }
  if (!table) {
    await createTable(client, tableName);
    return { createdTable: true, upgradedRows: 0 };
  }
  if (missingIndexes(table).length === 0) return { createdTable: false, upgradedRows: 0 };
  await createTable(client, holding);
  await copyRows(client, tableName, holding);
  await dropTable(client, tableName);
  await createTable(client, tableName);
  return { createdTable: false, upgradedRows: await finishUpgrade(client, holding, tableName) };
}

async function finishUpgrade(client: DynamoDBClient, holding: string, tableName: string): Promise<number> {
  const rows = await copyRows(client, holding, tableName);
  await dropTable(client, holding);
  return rows;
}

function missingIndexes(table: TableDescription): string[] {
  const present = new Set(table.GlobalSecondaryIndexes?.map((index) => index.IndexName));
  return [TABLE_DEFINITION.dueIndex.name, TABLE_DEFINITION.pausedIndex.name].filter((name) => !present.has(name));
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

const WAIT = { maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 };

/**
 * The table as a start may use it: undefined when absent or left DELETING by a stopped start (its delete is then
 * finished: dynalite has cleared or is clearing its rows, so nothing in it is the truth any more); waited for when
 * CREATING or UPDATING.
 */
async function settled(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  const table = await describe(client, tableName);
  if (!table || table.TableStatus === "ACTIVE") return table;
  if (table.TableStatus === "DELETING") {
    await dropTable(client, tableName);
    return undefined;
  }
  await waitUntilTableExists({ client, ...WAIT }, { TableName: tableName });
  return describe(client, tableName);
}

async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await waitUntilTableExists({ client, ...WAIT }, { TableName: tableName });
}

async function dropTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await waitUntilTableNotExists({ client, ...WAIT }, { TableName: tableName });
}

/** BatchWriteItem's limit. */
const BATCH = 25;

/** Copies every row of `from` into `to` as it is, plus a paused partition's paused-index entry; returns the count. */
async function copyRows(client: DynamoDBClient, from: string, to: string): Promise<number> {
  let copied = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: from, ExclusiveStartKey: startKey }));
    const rows = (page.Items ?? []).map(withPausedEntry);
    for (let i = 0; i < rows.length; i += BATCH) {
      let requests = rows.slice(i, i + BATCH).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await client.send(new BatchWriteItemCommand({ RequestItems: { [to]: requests } }));
        requests = (UnprocessedItems?.[to] ?? []).flatMap((r) =>
          r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
        );
      }
    }
    copied += rows.length;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return copied;
}

function withPausedEntry(row: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const text = (name: string): string | undefined => row[name]?.S;
  const reason = text("pauseReason");
  const [tenantId, integrationId, connectionId, dataType] = [
    "tenantId",
    "integrationId",
    "connectionId",
    "dataType",
  ].map(text);
  if (
    text("entity") !== "partition" ||
    text("status") !== "paused" ||
    row[TABLE_DEFINITION.pausedIndex.partitionKey] ||
    !reason ||
    !tenantId ||
    !integrationId ||
    !connectionId ||
    !dataType
  ) {
    return row;
  }
  const entry = keys.paused({ tenantId, integrationId, connectionId, dataType }, reason);
  return { ...row, GSI2PK: { S: entry.GSI2PK }, GSI2SK: { S: entry.GSI2SK } };
}
