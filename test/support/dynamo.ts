/**
 * Integration-test DynamoDB: dynalite in-process on a free loopback port, one server per test file, a fresh table
 * per test (or per suite) created from the shared table definition, so test files run in parallel.
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import dynalite from "dynalite";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createTableInput } from "../../shared/storage/table.js";

export interface TestDynamo {
  endpoint: string;
  doc: DynamoDBDocumentClient;
  /** Creates a new, empty table and returns its name. */
  createTable(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;

/** Starts dynalite (in memory) on 127.0.0.1 with a random port. */
export async function startDynamo(): Promise<TestDynamo> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const doc = createDocumentClient({ endpoint });
  const raw = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  return {
    endpoint,
    doc,
    async createTable(prefix = "t") {
      const name = `${prefix}-${process.pid}-${++counter}-${Date.now().toString(36)}`;
      await raw.send(new CreateTableCommand(createTableInput(name)));
      await waitUntilTableExists({ client: raw, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { TableName: name });
      return name;
    },
    async stop() {
      doc.destroy();
      raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
