/**
 * The local DynamoDB: dynalite on 127.0.0.1. With a data directory it keeps the table in LevelDB on disk, so a
 * restart of `npm start` finds everything it had; without one it is in memory. The table is created from the shared
 * definition (shared/storage/table.ts) when it does not exist yet.
 */
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { createTableInput, TABLE_DEFINITION } from "../../shared/storage/table.js";
import { listenOnLoopback } from "./listen.js";

export interface LocalDynamoOptions {
  /** 0 = a free port. */
  port: number;
  /** Directory for the LevelDB files; undefined keeps the data in memory. */
  path?: string;
  tableName: string;
}

export interface LocalDynamo {
  endpoint: string;
  port: number;
  /** Whether this start created the table (a first start, or a wiped data directory). */
  createdTable: boolean;
  stop(): Promise<void>;
}

/** Starts dynalite and makes sure the table exists. */
export async function startLocalDynamo(options: LocalDynamoOptions): Promise<LocalDynamo> {
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server: Server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listenOnLoopback(server, options.port, "DYNAMODB_PORT");
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    server.closeAllConnections();
    // dynalite's close also closes LevelDB (and releases its lock), so the same directory can be opened again.
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  };
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const createdTable = await ensureTable(client, options.tableName);
    return { endpoint, port: (server.address() as AddressInfo).port, createdTable, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    const hint = options.path
      ? ` Is another local stack using ${options.path}? Stop it, or set DATA_DIR to another directory.`
      : "";
    throw new Error(`Local DynamoDB failed to open its table: ${(error as Error).message}.${hint}`, { cause: error });
  } finally {
    client.destroy();
  }
}

/**
 * Creates the table if missing; refuses a table without one of its indexes (data from an older version: dynalite
 * cannot add an index to an existing table).
 */
async function ensureTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName) ?? [];
    const missing = [TABLE_DEFINITION.dueIndex.name, TABLE_DEFINITION.pausedIndex.name].filter(
      (name) => !indexes.includes(name),
    );
    if (missing.length > 0) {
      throw new Error(
        `table '${tableName}' exists without the ${missing.join(" and ")} index (made by an older version); delete the data directory to start afresh`,
      );
    }
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { TableName: tableName });
  return true;
}
