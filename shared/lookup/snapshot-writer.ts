/**
 * Writing a partition's lookup index snapshot (format: snapshot.ts) at a list commit, before the version flips.
 *
 * Incremental: a sync that changed few items starts from the previous version's snapshot and rebuilds the index with
 * only those items read again (by key, strongly consistent: they were just written). Which items changed is the diff
 * of the previous version's manifest and the new one (list-sync.ts), which a sync split across invocations derives
 * again at its finish, so nothing about it is checkpointed. The build is the same `buildIndexCore` as a full build,
 * fed the unchanged items' tokens from the previous snapshot, so the result is the index a full rebuild would give.
 * That rests on the engine's invariant that at each commit the item rows hold exactly what the manifest says (the
 * content hash covers everything the index keeps).
 *
 * Full (every item read, as a cold reader without a snapshot would): the partition's first version, no usable previous
 * snapshot (none recorded by the previous commit, or the stored one is not it — snapshot.ts "Which snapshot" —,
 * missing, unreadable, other settings, no lookup keys recorded), an unknown changed set (the committed
 * manifest had to be rebuilt from the rows), more than INCREMENTAL_MAX_CHANGED_SHARE of the items changed, or the chain
 * of incremental snapshots began more than FULL_REBUILD_AFTER_MS ago: rows removed by DynamoDB TTL (an item inactive
 * past its retention) are in no manifest diff, and the periodic full build is what drops them from the snapshot.
 */
import { NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { ReferenceDataConfig } from "../domain/source-config.js";
import type { IndexSnapshotRepository, ItemRepository } from "../storage/ports.js";
import {
  buildIndexCore,
  type IndexSource,
  itemFieldTokens,
  itemsSource,
  type LookupIndexCore,
  type LookupSourceItem,
  lookupKeysOf,
  MAX_FIELDS,
  statusOfCode,
} from "./index.js";
import {
  decodeSnapshotContent,
  encodeIndexSnapshot,
  type IndexSettings,
  indexSettingsOf,
  isCommittedSnapshot,
  type SnapshotContent,
  SnapshotFormatError,
  snapshotSettingsKey,
} from "./snapshot.js";

/**
 * Above this share of the previous snapshot's items changed, the snapshot is rebuilt from every item. Measured at
 * 100,000 items (`npm run bench -- snapshot`): reading every item (strongly consistent, see fullBuild) costs ~10,100
 * read units; an incremental write ~440 (the previous snapshot) plus one a changed item (a strongly consistent read
 * of a whole row): 1,440 at 1% changed, 5,440 at 5%, 10,440 at 10%. Read units break even near 9.7%, and the
 * incremental write takes about half the time even at 10%, so the line is drawn at 9%.
 */
export const INCREMENTAL_MAX_CHANGED_SHARE = 0.09;
/** An incremental chain older than this is replaced by a full build (see the module comment: TTL-expired rows). */
export const FULL_REBUILD_AFTER_MS = 24 * 3_600_000;

/** What a commit tells the snapshot writer. */
export interface SnapshotCommit {
  /** The version being committed. */
  version: number;
  /** The partition's committed version before this sync (0: none). */
  previousVersion: number;
  /** The snapshot that version is served from (Partition.snapshotId): the only one kept or built on. */
  previousSnapshotId?: string | undefined;
  /** External IDs whose stored state differs between the two versions; undefined when not known. */
  changed: readonly string[] | undefined;
  /** Items of the previous version, if known (its manifest's size): too many changed skips reading its snapshot. */
  previousCount?: number;
  now: number;
}

export interface SnapshotWriterDeps {
  repos: {
    items: Pick<ItemRepository, "listSummaries" | "getMany">;
    indexSnapshots: IndexSnapshotRepository;
  };
  /** The sync's lease, checked right before the write: a worker that lost it must not replace the new owner's. */
  lease: { assertHeld(): void };
  log: {
    info(message: string, ...extra: Record<string, unknown>[]): void;
    warn(message: string, ...extra: Record<string, unknown>[]): void;
  };
  /** Overrides INCREMENTAL_MAX_CHANGED_SHARE (tests of small partitions). */
  maxChangedShare?: number;
}

/** What writeIndexSnapshot did, and the snapshot the commit records for its version (undefined: none). */
export interface SnapshotWrite {
  build: "none" | "kept" | "full" | "incremental" | "failed";
  snapshotId: string | undefined;
}

/**
 * At a list partition's commit, before its version flips: writes the snapshot of `commit.version`, incrementally when
 * it can (module comment), then drops snapshots older than the previous version. An unchanged resync (same version)
 * keeps the version's snapshot unless it is not the recorded one or was built with other settings (one small
 * GetItem). Best effort: a failure is logged and the sync still commits, recording no snapshot (readers fall back to
 * the items). Returns the snapshot the commit must record (snapshot.ts "Which snapshot").
 */
export async function writeIndexSnapshot(
  deps: SnapshotWriterDeps,
  ref: PartitionRef,
  commit: SnapshotCommit,
  config: ReferenceDataConfig,
): Promise<SnapshotWrite> {
  const { version, previousVersion, previousSnapshotId } = commit;
  if (config.syncType !== "list" || version < 1) return { build: "none", snapshotId: undefined };
  const { indexSnapshots, items } = deps.repos;
  let snapshotId: string;
  let build: "full" | "incremental";
  try {
    const settings = indexSettingsOf(config);
    const settingsKey = snapshotSettingsKey(settings);
    if (
      version === previousVersion &&
      previousSnapshotId !== undefined &&
      isCommittedSnapshot(await indexSnapshots.stampOf(ref, version), previousSnapshotId, settingsKey)
    ) {
      return { build: "kept", snapshotId: previousSnapshotId };
    }
    const built =
      (await incrementalBuild(deps, ref, commit, settings, settingsKey)) ??
      (await fullBuild(items, ref, settings, commit.now));
    build = built.build;
    const bytes = encodeIndexSnapshot(built.core, {
      lookupKeys: (i) => built.lookupKeys[i]!,
      fullBuildAt: built.fullBuildAt,
    });
    deps.lease.assertHeld();
    ({ snapshotId } = await indexSnapshots.write(ref, version, bytes, settingsKey));
  } catch (error) {
    // Nothing is removed: the version's key may hold another writer's snapshot (a crashed attempt's, which no commit
    // records and so is never served, or, if this worker lost its lease, the new owner's, which is).
    deps.log.warn("lookup index snapshot not written", { version, error });
    return { build: "failed", snapshotId: undefined };
  }
  deps.log.info("lookup index snapshot written", { version, build, changed: commit.changed?.length });
  try {
    await indexSnapshots.deleteOlderThan(ref, version - 1);
  } catch (error) {
    deps.log.warn("older lookup index snapshots not removed", { version, error });
  }
  return { build, snapshotId };
}

/**
 * A built index core and each item's lookup keys, for the encoder. Only these are kept while encoding (the items or
 * the previous snapshot they were built from are garbage by then: encoding is the peak of a snapshot write).
 */
interface Built {
  build: "full" | "incremental";
  core: LookupIndexCore;
  lookupKeys: (readonly string[])[];
  fullBuildAt: number;
}

/** The index of every stored item. */
async function fullBuild(
  items: Pick<ItemRepository, "listSummaries">,
  ref: PartitionRef,
  settings: IndexSettings,
  now: number,
): Promise<Built> {
  // Consistent, like the incremental build's reads: this sync has just written these rows, and the snapshot carries
  // what it reads forward (incremental builds start from it for up to a day). Twice the read units of a full build,
  // about 0.001 USD at 100,000 items.
  const summaries = await items.listSummaries(ref, { consistent: true });
  return {
    build: "full",
    core: buildIndexCore(itemsSource(summaries), settings),
    lookupKeys: summaries.map(lookupKeysOf),
    fullBuildAt: now,
  };
}

/** The new index from the previous snapshot and the changed items, or undefined when a full build is due. */
async function incrementalBuild(
  deps: SnapshotWriterDeps,
  ref: PartitionRef,
  commit: SnapshotCommit,
  settings: IndexSettings,
  settingsKey: string,
): Promise<Built | undefined> {
  const { changed, previousVersion, previousSnapshotId, version } = commit;
  if (changed === undefined || previousVersion < 1 || previousVersion === version || previousSnapshotId === undefined) {
    return undefined;
  }
  const share = deps.maxChangedShare ?? INCREMENTAL_MAX_CHANGED_SHARE;
  const tooMany = (count: number) => changed.length > count * share;
  if (commit.previousCount !== undefined && tooMany(commit.previousCount)) return undefined;
  let base: SnapshotContent;
  try {
    // Eventually consistent is enough (and half the read units): a stale read may miss the recorded snapshot (then a
    // full build follows), but cannot return other bytes under its id, since its chunks are written once, all with it.
    const previous = await deps.repos.indexSnapshots.read(ref, previousVersion);
    if (!isCommittedSnapshot(previous, previousSnapshotId, settingsKey)) return undefined;
    base = decodeSnapshotContent(previous.bytes);
  } catch (error) {
    if (error instanceof SnapshotFormatError || error instanceof NotFoundError) return undefined;
    throw error;
  }
  if (
    !base.lookupKeys ||
    !(commit.now - base.fullBuildAt < FULL_REBUILD_AFTER_MS) ||
    tooMany(base.core.ids.length) ||
    // Fields capped: an item may have keys the previous index never saw.
    base.core.fields.length >= MAX_FIELDS
  ) {
    return undefined;
  }
  const rows = changed.length === 0 ? [] : await deps.repos.items.getMany(ref, changed, { consistent: true });
  const source = mergedSource(base, changed, rows);
  if (!source) return undefined;
  const lookupKeys: (readonly string[])[] = new Array(source.count);
  for (let i = 0; i < source.count; i++) lookupKeys[i] = source.lookupKeys(i);
  return { build: "incremental", core: buildIndexCore(source, settings), lookupKeys, fullBuildAt: base.fullBuildAt };
}

/**
 * The previous snapshot's items without the changed ones, and the changed ones that still exist (`rows`), in stored
 * order; undefined when the previous items are not in stored order (then nothing can be merged into them).
 */
function mergedSource(
  base: SnapshotContent,
  changed: readonly string[],
  rows: readonly LookupSourceItem[],
): IndexSource | undefined {
  const { core } = base;
  const columns = base.lookupKeys as NonNullable<SnapshotContent["lookupKeys"]>;
  const replaced = new Set(changed);
  const byId = new Map(rows.map((row) => [row.externalId, row]));
  const fresh = [...byId.values()].sort((a, b) => compareStoredOrder(a.externalId, b.externalId));
  // An entry is the position of an unchanged item in the previous index, or a changed item as now stored.
  const order: (number | LookupSourceItem)[] = [];
  let next = 0;
  for (let i = 0; i < core.ids.length; i++) {
    const id = core.ids[i]!;
    if (i > 0 && compareStoredOrder(core.ids[i - 1]!, id) >= 0) return undefined;
    while (next < fresh.length && compareStoredOrder(fresh[next]!.externalId, id) < 0) order.push(fresh[next++]!);
    if (!replaced.has(id)) order.push(i);
  }
  while (next < fresh.length) order.push(fresh[next++]!);

  // Every key of a previous item is one of the previous fields (they were not capped), and an item without keys had
  // the name fallback field: a field the previous index lacks has no tokens of a previous item.
  const fieldAt = new Map(core.fields.map((field, f) => [field, f]));
  const fieldCount = core.fields.length;
  const previousTokens = (i: number, field: string): readonly string[] => {
    const f = fieldAt.get(field);
    if (f === undefined) return [];
    const slot = i * fieldCount + f;
    const start = core.slotStart[slot]!;
    const tokens: string[] = new Array(core.slotStart[slot + 1]! - start);
    for (let t = 0; t < tokens.length; t++) tokens[t] = core.dict[core.slotTokens[start + t]!]!;
    return tokens;
  };
  const at = (n: number) => order[n]!;
  return {
    count: order.length,
    externalId: (n) => {
      const e = at(n);
      return typeof e === "number" ? core.ids[e]! : e.externalId;
    },
    name: (n) => {
      const e = at(n);
      return typeof e === "number" ? core.names[e]! : e.name;
    },
    metadata: (n) => {
      const e = at(n);
      return typeof e === "number" ? core.metadata[e]! : (e.metadata ?? {});
    },
    status: (n) => {
      const e = at(n);
      return typeof e === "number" ? statusOfCode(core.statusCodes[e]!) : e.status;
    },
    lookupKeys: (n) => {
      const e = at(n);
      return typeof e === "number" ? columns.shapes[columns.shape[e]!]! : lookupKeysOf(e);
    },
    tokens: (n, field) => {
      const e = at(n);
      return typeof e === "number" ? previousTokens(e, field) : itemFieldTokens(e, field);
    },
  };
}

/**
 * DynamoDB's order of string sort keys: by UTF-8 bytes, which is code point order. JavaScript compares UTF-16 code
 * units, which differs only between a surrogate (a code point above U+FFFF) and a unit from U+E000 up.
 */
export function compareStoredOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && (xSurrogate ? y : x) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
