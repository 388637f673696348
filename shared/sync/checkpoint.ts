/**
 * The checkpoint of a sync that ran out of time: what it has seen so far (id → hash and status), its running counts,
 * where paging stopped, and how far its finish got. The seen set goes into the job's checkpoint chunks (gzipped blob);
 * the pagination state goes on the job itself (`job.checkpoint.state`). Both are validated when read back: a checkpoint
 * that does not parse is discarded and the sync starts over, which is always safe (counts are computed against the
 * committed manifest, not against what earlier invocations wrote).
 */
import { z } from "zod";
import type { ItemStatus, SyncMode } from "../domain/entities.js";
import type { PageState } from "../gateway/pagination.js";
import type { Manifest } from "../storage/ports.js";

export interface SyncCheckpoint {
  mode: SyncMode;
  force: boolean;
  /** The job's `invocations` when this was saved: a later invocation number without a newer checkpoint means a crash. */
  invocation: number;
  /** Rows may hold uncommitted versions: read them back before diffing (set after a crash or a failed sync). */
  reconcile: boolean;
  seen: Manifest;
  itemsFailed: number;
  itemsDuplicate: number;
  pages: number;
  /**
   * "confirming": every page was read, and paging was split across invocations, so the pages are read once more for
   * the items not seen (one may have moved to a page already read). "finishing": `deactivated` soft deletes of the
   * committed candidates are done.
   */
  phase: "paging" | "confirming" | "finishing";
  deactivated: number;
  /**
   * Paging ran in more than one invocation: the page the last continuation resumed at. Items not seen may have moved
   * to the pages before it, so they are confirmed before deactivation.
   */
  splitAtPage?: number;
  /** Object syncs paged by the gateway: the pages read so far. */
  objectParts?: unknown[];
  /**
   * Where paging stopped, stored with the seen set it belongs to: the copy on the job is written after the chunks, so
   * a crash between the two writes must not pair a newer seen set with an older page position.
   */
  pageState?: Record<string, unknown>;
}

const STATUS_LETTER: Record<ItemStatus, string> = { active: "a", inactive: "i", deleted: "d" };
const LETTER_STATUS: Record<string, ItemStatus> = { a: "active", i: "inactive", d: "deleted" };

const storedSchema = z.object({
  v: z.literal(1),
  mode: z.enum(["full", "incremental"]),
  force: z.boolean(),
  invocation: z.number().int().min(0),
  reconcile: z.boolean(),
  seen: z.array(z.tuple([z.string(), z.string(), z.enum(["a", "i", "d"])])),
  itemsFailed: z.number().int().min(0),
  itemsDuplicate: z.number().int().min(0),
  pages: z.number().int().min(0),
  phase: z.enum(["paging", "confirming", "finishing"]),
  deactivated: z.number().int().min(0),
  pageState: z.record(z.string(), z.unknown()).optional(),
  splitAtPage: z.number().int().min(0).optional(),
  parts: z.array(z.unknown()).optional(),
});

/** The JSON stored in the checkpoint chunks: seen entries as compact `[id, hash, statusLetter]` tuples. */
export function encodeCheckpoint(checkpoint: SyncCheckpoint): unknown {
  const seen: [string, string, string][] = [];
  for (const [id, entry] of checkpoint.seen) seen.push([id, entry.hash, STATUS_LETTER[entry.status]]);
  return {
    v: 1,
    mode: checkpoint.mode,
    force: checkpoint.force,
    invocation: checkpoint.invocation,
    reconcile: checkpoint.reconcile,
    seen,
    itemsFailed: checkpoint.itemsFailed,
    itemsDuplicate: checkpoint.itemsDuplicate,
    pages: checkpoint.pages,
    phase: checkpoint.phase,
    deactivated: checkpoint.deactivated,
    ...(checkpoint.pageState ? { pageState: checkpoint.pageState } : {}),
    ...(checkpoint.splitAtPage === undefined ? {} : { splitAtPage: checkpoint.splitAtPage }),
    ...(checkpoint.objectParts ? { parts: checkpoint.objectParts } : {}),
  };
}

/** The checkpoint, or undefined when the stored value is not one this code wrote. */
export function decodeCheckpoint(value: unknown): SyncCheckpoint | undefined {
  const parsed = storedSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { seen: tuples, v: _v, parts, ...rest } = parsed.data;
  const seen: Manifest = new Map();
  for (const [id, hash, letter] of tuples) seen.set(id, { hash, status: LETTER_STATUS[letter] ?? "active" });
  return parts === undefined ? { ...rest, seen } : { ...rest, seen, objectParts: parts };
}

const pageStateSchema = z.object({
  page: z.number().int().min(0),
  input: z.record(z.string(), z.unknown()),
  seenCursors: z.array(z.string()),
  done: z.boolean(),
  base: z.record(z.string(), z.unknown()).optional(),
});

/** The pagination state stored on the job, or undefined when it does not parse. */
export function decodePageState(value: unknown): PageState | undefined {
  const parsed = pageStateSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const state: PageState = {
    page: parsed.data.page,
    input: parsed.data.input,
    seenCursors: parsed.data.seenCursors,
    done: parsed.data.done,
  };
  if (parsed.data.base !== undefined) state.base = parsed.data.base;
  return state;
}

/** PageState as the job's `checkpoint.state` record. */
export function pageStateRecord(state: PageState): Record<string, unknown> {
  const record: Record<string, unknown> = {
    page: state.page,
    input: state.input,
    seenCursors: state.seenCursors,
    done: state.done,
  };
  if (state.base !== undefined) record.base = state.base;
  return record;
}
