/** Comparing index snapshots in tests: what a full rebuild writes, and every part of a snapshot as plain data. */
import { buildIndexCore, itemsSource, type LookupSourceItem, lookupKeysOf } from "../../shared/lookup/index.js";
import { decodeSnapshotContent, encodeIndexSnapshot, type SnapshotContent } from "../../shared/lookup/snapshot.js";

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
