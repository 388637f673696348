/**
 * The local DynamoDB: dynalite on 127.0.0.1. With a data directory it keeps the table in LevelDB on disk, so a
 * restart of `npm start` finds everything it had; without one it is in memory. The table is created from the shared
 * definition (shared/storage/table.ts) when it does not exist yet, and upgraded when an older version made it
 * (table-upgrade.ts).
 */
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { listenOnLoopback } from "./listen.js";
import { ensureCurrentTable, type TableReady } from "./table-upgrade.js";

export interface LocalDynamoOptions {
  /** 0 = a free port. */
  port: number;
  /** Directory for the LevelDB files; undefined keeps the data in memory. */
  path?: string;
  tableName: string;
}

export interface LocalDynamo extends TableReady {
  endpoint: string;
  port: number;
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
    const ready = await ensureCurrentTable(client, options.tableName);
    return { endpoint, port: (server.address() as AddressInfo).port, ...ready, stop };
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
