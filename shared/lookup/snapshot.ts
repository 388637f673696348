/**
 * Lookup index snapshots: at commit the sync worker writes the partition's index as compact bytes under the committed
 * version (snapshot-writer.ts, built on the previous version's snapshot when few items changed), and a cold query
 * container loads them (indexFromSnapshot) instead of reading and tokenising every item. A snapshot stores only the
 * index's core (index.ts `LookupIndexCore`); the postings are recomputed on load in two linear passes.
 *
 * Settings: an index is built from the source's lookup fields (which fields, in which priority), so a snapshot is
 * keyed by them (`snapshotSettingsKey`). A reader whose source now names other fields ignores the snapshot and builds
 * from the items; the next sync, changed or not, rewrites it for the new settings. The fuzzy flag only sets the
 * index's default (lookup takes the source's current flag per query), so it is applied on load, not keyed.
 *
 * Which snapshot: a version's key can hold a snapshot its commit did not write — one left by an attempt that died
 * before its version flip (version numbers are reused: the next sync commits the same one), or one a worker that lost
 * its lease wrote late. Every write has its own id (the storage repository's), the commit records the id of the
 * snapshot it wrote or kept on the partition, under its lease (Partition.snapshotId; none when its write failed), and
 * a snapshot is served, kept or built on only when its id is the one recorded (`isCommittedSnapshot`). A snapshot
 * without an id (written before ids existed) is never used: no partition records one for it; the next sync writes
 * one that is. The id is not in the bytes, so the format did not change for it.
 *
 * Layout (before the BlobStore's gzip), little-endian:
 *   "RDIX" · u8 format · u32 header length · header JSON · u32 strings length · strings JSON ([ids, names, dict,
 *   metadata, lookup keys], ids and dict front-coded: each keeps only what follows the prefix it shares with the one
 *   before, metadata by column: the distinct key lists (shapes), each item's shape, and per shape one array per key;
 *   lookup keys as shapes too: each item's lookup keys in its order, which decide the fields of an index built
 *   incrementally from this one (snapshot-writer.ts), or null when the writer did not know them) ·
 *   shared-prefix lengths of ids, then of dict (1 byte each) · status codes (1 byte an item) · tokens per slot
 *   (`lengthWidth` bytes a slot) · token ids (`tokenWidth` bytes each; those of the ID field as the difference from
 *   the previous ID token, small because items are in ID order). Items are in stored (ID) order and the
 *   dictionary is sorted, so front coding removes most of both before gzip sees them.
 */

import type { PartitionRef } from "../domain/ids.js";
import type { ReferenceDataConfig } from "../domain/source-config.js";
import { lookupFieldsOf } from "../domain/source-config.js";
import type { IndexSnapshotRepository, IndexSnapshotStamp } from "../storage/ports.js";
import { assembleLookupIndex, type LookupIndex, type LookupIndexCore } from "./index.js";

const MAGIC = "RDIX";
/** Bump when the layout changes: older snapshots then stop matching and readers fall back to the items. */
const FORMAT = 2;

/** How an index is built: the source's lookup fields and fuzzy flag (defaults when it has no source). */
export interface IndexSettings {
  fields?: readonly string[];
  fuzzy?: boolean;
}

/** The index settings of a source's config: one decision for the worker that writes and the reader that loads. */
export function indexSettingsOf(config: ReferenceDataConfig): IndexSettings {
  return { fields: lookupFieldsOf(config), fuzzy: config.fuzzyMatch };
}

/** What a snapshot must have been built with to be served for `settings`. */
export function snapshotSettingsKey(settings: IndexSettings): string {
  return JSON.stringify({ format: FORMAT, fields: settings.fields ?? null });
}

interface Header {
  fields: string[];
  size: number;
  dictSize: number;
  tokenCount: number;
  maxSlotTokens: number;
  tokenWidth: number;
  lengthWidth: number;
  /** When the chain of incremental snapshots this one ends began with a full build (epoch ms; 0 unknown). */
  fullBuildAt: number;
}

/** What a snapshot stores of an index: a built LookupIndex or the core of one. */
export type SnapshotIndex = Pick<
  LookupIndex,
  "fields" | "ids" | "names" | "metadata" | "statusCodes" | "dict" | "slotStart" | "slotTokens" | "maxSlotTokens"
>;

/** What a snapshot keeps beside the index, for the next snapshot to build on it (snapshot-writer.ts). */
export interface SnapshotExtras {
  /** Each item's lookup keys in its order (by position); without them the snapshot cannot seed an incremental one. */
  lookupKeys?: (i: number) => readonly string[];
  /** See Header.fullBuildAt. */
  fullBuildAt?: number;
}

/** The snapshot bytes of an index. */
export function encodeIndexSnapshot(index: SnapshotIndex, extras: SnapshotExtras = {}): Buffer {
  const size = index.ids.length;
  const fieldCount = index.fields.length;
  const slots = size * fieldCount;
  const tokenCount = index.slotTokens.length;
  const header: Header = {
    fields: [...index.fields],
    size,
    dictSize: index.dict.length,
    tokenCount,
    maxSlotTokens: index.maxSlotTokens,
    tokenWidth: widthOf(Math.max(0, index.dict.length - 1)),
    lengthWidth: widthOf(index.maxSlotTokens),
    fullBuildAt: extras.fullBuildAt ?? 0,
  };
  const lookupKeys = extras.lookupKeys;
  const ids = frontCode(index.ids);
  const dict = frontCode(index.dict);
  const lengths = new Uint32Array(slots);
  for (let s = 0; s < slots; s++) lengths[s] = index.slotStart[s + 1]! - index.slotStart[s]!;
  return Buffer.concat([
    Buffer.from(MAGIC, "latin1"),
    Buffer.from([FORMAT]),
    ...framed(JSON.stringify(header)),
    ...framed(
      JSON.stringify([
        ids.suffixes,
        index.names,
        dict.suffixes,
        metadataColumns(index.metadata),
        lookupKeys ? shapeColumns(size, lookupKeys) : null,
      ]),
    ),
    ids.shared,
    dict.shared,
    Buffer.from(index.statusCodes.buffer, index.statusCodes.byteOffset, index.statusCodes.byteLength),
    packUints(lengths, header.lengthWidth),
    packUints(idTokenDeltas(index.slotTokens, index.slotStart, fieldCount, header.tokenWidth, 1), header.tokenWidth),
  ]);
}

/** The index a snapshot holds, with `fuzzy` as its default. Throws SnapshotFormatError on anything malformed. */
export function decodeIndexSnapshot(bytes: Uint8Array, fuzzy = true): LookupIndex {
  return assembleLookupIndex(decodeSnapshotContent(bytes, fuzzy).core);
}

/** What a snapshot holds: the index's core (no postings) and its extras (lookup keys as shapes). */
export interface SnapshotContent {
  core: LookupIndexCore;
  /** Per item, its lookup keys (`shapes[shape[i]]`); undefined when the writer did not record them. */
  lookupKeys: ShapeColumns | undefined;
  fullBuildAt: number;
}

/** The content of a snapshot. Throws SnapshotFormatError on anything malformed. */
export function decodeSnapshotContent(bytes: Uint8Array, fuzzy = true): SnapshotContent {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 5 || buffer.toString("latin1", 0, 4) !== MAGIC || buffer[4] !== FORMAT) {
    throw new SnapshotFormatError("not a lookup index snapshot of this format");
  }
  let at = 5;
  const readFramed = (): unknown => {
    if (at + 4 > buffer.length) throw new SnapshotFormatError("truncated");
    const length = buffer.readUInt32LE(at);
    at += 4;
    if (at + length > buffer.length) throw new SnapshotFormatError("truncated");
    const value: unknown = JSON.parse(buffer.toString("utf8", at, at + length));
    at += length;
    return value;
  };
  const header = readFramed() as Header;
  const strings = readFramed() as [string[], string[], string[], MetadataColumns, ShapeColumns | null];
  const { size, tokenCount } = header;
  const fieldCount = header.fields?.length ?? 0;
  const [idSuffixes, names, dictSuffixes, columns, lookupKeys] = Array.isArray(strings) ? strings : [];
  const metadata = columns === undefined ? undefined : metadataRows(columns, size);
  if (
    !Array.isArray(idSuffixes) ||
    !Array.isArray(names) ||
    !Array.isArray(dictSuffixes) ||
    !Array.isArray(metadata) ||
    idSuffixes.length !== size ||
    names.length !== size ||
    metadata.length !== size ||
    dictSuffixes.length !== header.dictSize ||
    fieldCount === 0
  ) {
    throw new SnapshotFormatError("inconsistent header");
  }
  const slots = size * fieldCount;
  const expected = at + 2 * size + header.dictSize + slots * header.lengthWidth + tokenCount * header.tokenWidth;
  if (buffer.length !== expected) throw new SnapshotFormatError(`expected ${expected} bytes, found ${buffer.length}`);
  const ids = frontDecode(idSuffixes, buffer.subarray(at, at + size));
  at += size;
  const dict = frontDecode(dictSuffixes, buffer.subarray(at, at + header.dictSize));
  at += header.dictSize;
  const statusCodes = new Uint8Array(buffer.subarray(at, at + size));
  at += size;
  const lengths = unpackUints(buffer, at, slots, header.lengthWidth);
  at += slots * header.lengthWidth;
  const slotTokens = unpackUints(buffer, at, tokenCount, header.tokenWidth);
  const slotStart = new Uint32Array(slots + 1);
  for (let s = 0; s < slots; s++) slotStart[s + 1] = slotStart[s]! + lengths[s]!;
  if (slotStart[slots] !== tokenCount) throw new SnapshotFormatError("slot lengths do not add up");
  idTokenDeltas(slotTokens, slotStart, fieldCount, header.tokenWidth, -1, slotTokens);
  for (let p = 0; p < tokenCount; p++) {
    if (slotTokens[p]! >= dict.length) throw new SnapshotFormatError("token id out of range");
  }
  if (lookupKeys) checkShapeColumns(lookupKeys, size);
  return {
    core: {
      fuzzy,
      fields: header.fields,
      ids,
      names,
      metadata,
      statusCodes,
      dict,
      slotStart,
      slotTokens,
      maxSlotTokens: header.maxSlotTokens,
    },
    lookupKeys: lookupKeys ?? undefined,
    fullBuildAt: typeof header.fullBuildAt === "number" ? header.fullBuildAt : 0,
  };
}

/** A snapshot that cannot be decoded: the reader falls back to the items. */
export class SnapshotFormatError extends Error {
  constructor(reason: string) {
    super(`Lookup index snapshot unreadable: ${reason}`);
    this.name = "SnapshotFormatError";
  }
}

/** A partition's committed version and the snapshot its commit recorded for it (Partition.snapshotId). */
export interface CommittedIndex {
  version: number;
  snapshotId?: string | undefined;
}

/**
 * Whether a stored snapshot (or its stamp) is the one the commit recorded (module comment, "Which snapshot") and was
 * built with the settings of `settingsKey`: the one test before a snapshot is served, kept or built on.
 */
export function isCommittedSnapshot<T extends IndexSnapshotStamp>(
  stored: T | undefined,
  committedSnapshotId: string | undefined,
  settingsKey: string,
): stored is T {
  return (
    stored !== undefined &&
    committedSnapshotId !== undefined &&
    stored.snapshotId === committedSnapshotId &&
    stored.settingsKey === settingsKey
  );
}

/**
 * The index of `ref` at its committed version from the snapshot its commit recorded, or undefined when there is none,
 * the stored one is not it, was built with other lookup fields, or cannot be read (the caller then builds from the
 * items).
 */
export async function indexFromSnapshot(
  snapshots: Pick<IndexSnapshotRepository, "read">,
  ref: PartitionRef,
  committed: CommittedIndex,
  settings: IndexSettings,
): Promise<LookupIndex | undefined> {
  if (committed.snapshotId === undefined) return undefined;
  try {
    const snapshot = await snapshots.read(ref, committed.version);
    if (!snapshot || !isCommittedSnapshot(snapshot, committed.snapshotId, snapshotSettingsKey(settings))) {
      return undefined;
    }
    return decodeIndexSnapshot(snapshot.bytes, settings.fuzzy ?? true);
  } catch {
    return undefined;
  }
}

/** Distinct string lists and each item's list among them: how per-item key lists are stored. */
export interface ShapeColumns {
  shapes: string[][];
  shape: number[];
}

function shapeColumns(size: number, keysOf: (i: number) => readonly string[]): ShapeColumns {
  const ids = new Map<string, number>();
  const columns: ShapeColumns = { shapes: [], shape: new Array(size) };
  // Items of an incremental build share their shape's array: one like the item before needs no signature.
  let last: readonly string[] | undefined;
  for (let i = 0; i < size; i++) {
    const keys = keysOf(i);
    if (keys === last) {
      columns.shape[i] = columns.shape[i - 1]!;
      continue;
    }
    last = keys;
    const signature = JSON.stringify(keys);
    let id = ids.get(signature);
    if (id === undefined) {
      id = columns.shapes.length;
      ids.set(signature, id);
      columns.shapes.push([...keys]);
    }
    columns.shape[i] = id;
  }
  return columns;
}

function checkShapeColumns(columns: ShapeColumns, size: number): void {
  const { shapes, shape } = columns;
  if (!Array.isArray(shapes) || !Array.isArray(shape) || shape.length !== size) {
    throw new SnapshotFormatError("bad lookup key columns");
  }
  for (const keys of shapes) {
    if (!Array.isArray(keys) || keys.some((key) => typeof key !== "string")) {
      throw new SnapshotFormatError("bad lookup key shape");
    }
  }
  for (const id of shape) {
    if (!Number.isInteger(id) || id < 0 || id >= shapes.length) throw new SnapshotFormatError("bad lookup key shape");
  }
}

/** Metadata by column: parsing arrays of values is faster, and smaller once gzipped, than one object per item. */
interface MetadataColumns {
  /** Distinct key lists, in their items' own key order (so a served object keeps its key order). */
  shapes: string[][];
  /** Each item's shape. */
  shape: number[];
  /** Per shape, per key: the values of that shape's items, in item order. */
  values: unknown[][][];
}

function metadataColumns(metadata: readonly Readonly<Record<string, unknown>>[]): MetadataColumns {
  const { shapes, shape } = shapeColumns(metadata.length, (i) => Object.keys(metadata[i]!));
  const values: unknown[][][] = shapes.map((keys) => keys.map(() => []));
  for (let i = 0; i < metadata.length; i++) {
    const row = metadata[i]!;
    const keys = shapes[shape[i]!]!;
    const columns = values[shape[i]!]!;
    for (let k = 0; k < keys.length; k++) columns[k]!.push(row[keys[k]!]);
  }
  return { shapes, shape, values };
}

function metadataRows(columns: MetadataColumns, size: number): Record<string, unknown>[] {
  const { shapes, shape, values } = columns ?? {};
  if (!Array.isArray(shapes) || !Array.isArray(shape) || !Array.isArray(values) || shape.length !== size) {
    throw new SnapshotFormatError("bad metadata columns");
  }
  const next = new Array<number>(shapes.length).fill(0);
  const rows: Record<string, unknown>[] = new Array(size);
  for (let i = 0; i < size; i++) {
    const s = shape[i]!;
    const keys = shapes[s];
    const column = values[s];
    if (!Array.isArray(keys) || !Array.isArray(column)) throw new SnapshotFormatError("bad metadata shape");
    const at = next[s]!++;
    const row: Record<string, unknown> = {};
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      // An own `__proto__` key (as JSON.parse makes it), never the prototype.
      if (key === "__proto__")
        Object.defineProperty(row, key, {
          value: column[k]?.[at],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else row[key] = column[k]?.[at];
    }
    rows[i] = row;
  }
  return rows;
}

/** Longest shared prefix front coding records (one byte). */
const MAX_SHARED = 255;

/** Each string as the length of the prefix it shares with the previous one (≤ 255) and the rest. */
function frontCode(values: readonly string[]): { suffixes: string[]; shared: Buffer } {
  const suffixes: string[] = new Array(values.length);
  const shared = Buffer.alloc(values.length);
  let previous = "";
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    const limit = Math.min(MAX_SHARED, previous.length, value.length);
    let k = 0;
    while (k < limit && value.charCodeAt(k) === previous.charCodeAt(k)) k++;
    shared[i] = k;
    suffixes[i] = value.slice(k);
    previous = value;
  }
  return { suffixes, shared };
}

function frontDecode(suffixes: readonly unknown[], shared: Uint8Array): string[] {
  const values: string[] = new Array(suffixes.length);
  let previous = "";
  for (let i = 0; i < suffixes.length; i++) {
    const suffix = suffixes[i];
    const k = shared[i]!;
    if (typeof suffix !== "string" || k > previous.length) throw new SnapshotFormatError("bad front coding");
    previous = previous.slice(0, k) + suffix;
    values[i] = previous;
  }
  return values;
}

/**
 * The token ids with those of the ID field (field 0 of each item) replaced by their difference from the previous ID
 * token, modulo the width (`sign` 1), or back (`sign` -1). Into `out` (default a copy).
 */
function idTokenDeltas(
  tokens: Uint32Array,
  slotStart: Uint32Array,
  fieldCount: number,
  width: number,
  sign: 1 | -1,
  out: Uint32Array = Uint32Array.from(tokens),
): Uint32Array {
  const modulus = 2 ** (8 * width);
  let previous = 0;
  const items = (slotStart.length - 1) / fieldCount;
  for (let i = 0; i < items; i++) {
    const slot = i * fieldCount;
    for (let p = slotStart[slot]!; p < slotStart[slot + 1]!; p++) {
      const value = tokens[p]!;
      if (sign === 1) {
        out[p] = (value - previous + modulus) % modulus;
        previous = value;
      } else {
        previous = (previous + value) % modulus;
        out[p] = previous;
      }
    }
  }
  return out;
}

/** Bytes needed for unsigned values up to `max`. */
function widthOf(max: number): number {
  return max < 0x100 ? 1 : max < 0x10000 ? 2 : max < 0x1000000 ? 3 : 4;
}

/** A u32 length and the text's bytes, as two parts (the snapshot's one concat copies them once). */
function framed(text: string): Buffer[] {
  const body = Buffer.from(text, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length, 0);
  return [length, body];
}

function packUints(values: Uint32Array, width: number): Buffer {
  const out = Buffer.alloc(values.length * width);
  for (let i = 0, at = 0; i < values.length; i++, at += width) out.writeUIntLE(values[i]!, at, width);
  return out;
}

function unpackUints(buffer: Buffer, at: number, count: number, width: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0, p = at; i < count; i++, p += width) out[i] = buffer.readUIntLE(p, width);
  return out;
}
