/**
 * Index snapshots in tests: what a full rebuild writes, every part of a snapshot as plain data, and a cold query
 * container that records whether its first lookup read the snapshot or the items.
 */
import { lookupReferenceData } from "../../shared/api/query/lookup.js";
import type { QueryDeps } from "../../shared/api/query/read.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { LookupIndexCache } from "../../shared/lookup/cache.js";
import { buildIndexCore, itemsSource, type LookupSourceItem, lookupKeysOf } from "../../shared/lookup/index.js";
import { decodeSnapshotContent, encodeIndexSnapshot, type SnapshotContent } from "../../shared/lookup/snapshot.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories, keys } from "../../shared/storage/index.js";
import type { Env } from "./sync-harness.js";

/** The content a full rebuild from these items (in stored order) writes. */
export function fullRebuild(items: readonly LookupSourceItem[], fields: readonly string[]): SnapshotContent {
  const core = buildIndexCore(itemsSource(items), { fields });
  return decodeSnapshotContent(encodeIndexSnapshot(core, { lookupKeys: (i) => lookupKeysOf(items[i]!) }));
}

/** A snapshot's content as comparable data: every part of the index core and each item's lookup keys. */
export function comparable(content: SnapshotContent) {
  const { core, lookupKeys } = content;
  return {
    fields: core.fields,
    ids: core.ids,
    names: core.names,
    metadata: JSON.stringify(core.metadata),
    statusCodes: [...core.statusCodes],
    dict: core.dict,
    slotStart: [...core.slotStart],
    slotTokens: [...core.slotTokens],
    maxSlotTokens: core.maxSlotTokens,
    lookupKeys: core.ids.map((_, i) => (lookupKeys ? lookupKeys.shapes[lookupKeys.shape[i]!] : undefined)),
  };
}

/**
 * A cold query container for `ref`'s lookups: its own DocumentClient (recording the SK prefix of every Query it sends)
 * and an empty cache.
 */
export function coldContainer(env: Pick<Env, "servers" | "tableName" | "clock">, ref: PartitionRef) {
  const doc = createDocumentClient({ endpoint: env.servers.dynamo.endpoint });
  const queried: string[] = [];
  doc.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as {
        ExpressionAttributeValues?: Record<string, unknown>;
        KeyConditionExpression?: string;
      };
      const values = input.ExpressionAttributeValues ?? {};
      const prefix = values[":prefix"] ?? values[":first"];
      if (input.KeyConditionExpression) queried.push(String(prefix));
      return next(args);
    },
    { step: "initialize", name: "countQueries" },
  );
  const deps: QueryDeps = {
    repos: createRepositories({ doc, tableName: env.tableName }),
    clock: env.clock,
    cache: new LookupIndexCache(),
  };
  const ask = (query: string) =>
    lookupReferenceData(deps, {
      tenantId: ref.tenantId,
      integrationId: ref.integrationId,
      dataType: ref.dataType,
      query: { query, connectionId: ref.connectionId, limit: 5, includeInactive: false },
    });
  return {
    ask,
    readSnapshot: () => queried.some((p) => p.startsWith(keys.indexSnapshotPrefix())),
    readItems: () => queried.some((p) => p.startsWith(keys.itemPrefix)),
  };
}
