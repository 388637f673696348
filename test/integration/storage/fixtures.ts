/** Shared set-up of the storage integration tests: a dynalite per file, a fresh table and repositories per test. */
import type { Item, PartitionRef } from "../../../shared/domain/index.js";
import { createRepositories, type RetryOptions } from "../../../shared/storage/index.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import type { TestDynamo } from "../../support/dynamo.js";

export const T0 = Date.parse("2030-01-01T00:00:00.000Z");

export function partitionRef(overrides: Partial<PartitionRef> = {}): PartitionRef {
  return { tenantId: "acme", integrationId: "slack", connectionId: "default", dataType: "users", ...overrides };
}

export interface TestStore {
  tableName: string;
  repos: Repositories;
}

/** A new table with repositories over it; `retry` defaults to a no-wait sleep so retry paths cost no wall time. */
export async function newStore(dynamo: TestDynamo, retry: RetryOptions = {}): Promise<TestStore> {
  const tableName = await dynamo.createTable("storage");
  const repos = createRepositories({
    doc: dynamo.doc,
    tableName,
    retry: { sleep: async () => {}, ...retry },
  });
  return { tableName, repos };
}

export function item(externalId: string, overrides: Partial<Item> = {}): Item {
  return {
    externalId,
    name: `User ${externalId}`,
    lookup: { name: `User ${externalId}` },
    metadata: { email: `${externalId}@example.com` },
    status: "active",
    contentHash: `h-${externalId}`,
    jobId: "JOB1",
    change: "created",
    createdAt: "2030-01-01T00:00:00.000Z",
    updatedAt: "2030-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** Calls of each DynamoDB operation made through the DocumentClient, counted by a middleware (removed by `stop`). */
export function countRequests(dynamo: TestDynamo): { counts: Map<string, number>; stop: () => void } {
  const counts = new Map<string, number>();
  const name = `count-${Math.random().toString(36).slice(2)}`;
  const stack = dynamo.doc.middlewareStack;
  stack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      counts.set(command, (counts.get(command) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name },
  );
  return { counts, stop: () => stack.remove(name) };
}
