/**
 * The change feed, GET …/reference-data/changes (DESIGN.md "Change feed"): every created / updated / deactivated /
 * deleted / reactivated item, oldest first, exactly once when following cursors.
 *
 * A cursor holds, per list partition, the last data version it has fully read (and, inside a version it stopped in,
 * the last externalId read). A page lists the partitions in scope (partition rows only), reads the commit rows of the
 * versions past each position (`CLOG#`), orders the commits by commit time, and reads each commit's staged changes
 * (`CHG#{jobId}#`). So its cost grows with the changes returned, never with a partition's size, and a poll with
 * nothing new reads the partition rows and nothing else. Work a job never committed has no commit row and is never
 * read; a take-over job stages its own rows, so a change is read once whatever crashed.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Clock } from "../../domain/clock.js";
import type { Partition } from "../../domain/entities.js";
import { GoneError, ValidationError } from "../../domain/errors.js";
import { connectionIdSchema, dataTypeSchema, refOf } from "../../domain/ids.js";
import { type CursorKeys, decodeCursor, encodeCursor, queryFingerprint } from "../../http/cursor.js";
import type { PaginationMeta } from "../../http/envelope.js";
import { type ChangeRecord, type CommitRecord, changeKindSchema } from "../../storage/change-repository.js";
import type { Repositories } from "../../storage/ports.js";

export const changesQuerySchema = z.object({
  dataType: dataTypeSchema.optional(),
  connectionId: connectionIdSchema
    .optional()
    .describe("One connection's changes; every served connection when omitted"),
  since: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe("`pagination.cursor` of an earlier page, or an ISO time; omitted: the oldest retained change"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ChangesQuery = z.output<typeof changesQuerySchema>;

const changeWireSchema = z.object({
  externalId: z.string(),
  name: z.string(),
  change: changeKindSchema,
  status: z.enum(["active", "inactive", "deleted"]),
  metadata: z.record(z.string(), z.unknown()),
  changedAt: z.string(),
  committedAt: z.string(),
  jobId: z.string(),
  connectionId: z.string(),
  dataType: z.string(),
});
export const changesResultSchema = z.object({ changes: z.array(changeWireSchema) });
export type ChangeWire = z.infer<typeof changeWireSchema>;

export interface ChangesDeps {
  repos: Pick<Repositories, "partitions" | "changes">;
  clock: Clock;
  cursorKeys: CursorKeys;
  retentionDays: number;
}

/** Position in one partition: versions ≤ v fully read; inside version v + 1, externalIds ≤ a read. */
type Position = { v: number; a?: string };
interface FeedCursor {
  /** Positions by a short hash of the partition (keeps the cursor small). */
  p: Record<string, [number] | [number, string]>;
}

const COMMITS_PER_PARTITION = 100;

export async function getChanges(
  deps: ChangesDeps,
  input: { tenantId: string; integrationId: string; query: ChangesQuery },
): Promise<{ data: { changes: ChangeWire[] }; pagination: PaginationMeta }> {
  const { repos, clock } = deps;
  const { tenantId, integrationId, query } = input;
  const now = clock.now();
  const retentionMs = deps.retentionDays * 86_400_000;
  const binding = {
    tenantId,
    fingerprint: queryFingerprint({
      route: "changes",
      integrationId,
      dataType: query.dataType,
      connectionId: query.connectionId,
    }),
  };
  const partitions = (
    await repos.partitions.listByIntegration(tenantId, integrationId, {
      ...(query.connectionId ? { connectionId: query.connectionId } : {}),
      ...(query.dataType ? { dataType: query.dataType } : {}),
    })
  )
    // A revoked connection's data is no longer served; object partitions have no item changes.
    .filter((p) => p.syncType === "list" && p.pauseReason !== "revoked")
    .sort((a, b) => slot(a).localeCompare(slot(b)));

  const since = parseSince(query.since, now, retentionMs);
  const positions = new Map<string, Position>();
  /** Whether a gap before the first retained commit means changes were lost (a cursor) or is just history (start). */
  const strict = since.kind === "cursor";
  for (const p of partitions) {
    if (since.kind === "cursor") {
      const stored = since.cursor.p[slot(p)];
      positions.set(slot(p), stored ? position(stored) : { v: 0 });
    } else if (since.kind === "time") {
      positions.set(slot(p), await positionAt(deps, p, since.at));
    } else {
      positions.set(slot(p), { v: 0 });
    }
  }

  // The commits each partition has past its position, merged in commit-time order.
  const pending: { p: Partition; commit: CommitRecord }[] = [];
  for (const p of partitions) {
    const pos = positions.get(slot(p)) as Position;
    if (p.version <= pos.v) continue;
    const commits = await repos.changes.commits(refOf(p), pos.v, p.version, COMMITS_PER_PARTITION);
    const first = commits[0];
    if (strict && pos.v > 0 && (!first || first.version !== pos.v + 1)) {
      throw new GoneError(
        "The change feed no longer holds changes this cursor has not read (older than the retention); resynchronise with a full list and start the feed again without `since`.",
        { field: "since", retentionDays: deps.retentionDays },
      );
    }
    for (const commit of commits) pending.push({ p, commit });
  }
  pending.sort(
    (a, b) =>
      a.commit.committedAt.localeCompare(b.commit.committedAt) ||
      slot(a.p).localeCompare(slot(b.p)) ||
      a.commit.version - b.commit.version,
  );

  const changes: ChangeWire[] = [];
  let full = false;
  for (const { p, commit } of pending) {
    if (full) break;
    const pos = positions.get(slot(p)) as Position;
    if (commit.version <= pos.v) continue;
    if (commit.version > pos.v + 1) pos.a = undefined; // history before the oldest retained commit
    const after = commit.version === pos.v + 1 ? pos.a : undefined;
    const remaining = query.limit - changes.length;
    const page = await repos.changes.changes(refOf(p), commit.jobId, after, remaining);
    for (const record of page.records) changes.push(wire(record, p, commit));
    const last = page.records[page.records.length - 1];
    if (page.more) {
      positions.set(slot(p), last ? { v: commit.version - 1, a: last.externalId } : { v: commit.version - 1 });
      full = true;
    } else {
      positions.set(slot(p), { v: commit.version });
      if (changes.length >= query.limit) full = true;
    }
  }

  const hasMore = partitions.some((p) => {
    const pos = positions.get(slot(p)) as Position;
    return p.version > pos.v;
  });
  const cursor: FeedCursor = { p: {} };
  for (const p of partitions) {
    const pos = positions.get(slot(p)) as Position;
    if (pos.v > 0 || pos.a !== undefined) cursor.p[slot(p)] = pos.a === undefined ? [pos.v] : [pos.v, pos.a];
  }
  return {
    data: { changes },
    pagination: { cursor: encodeCursor({ ...cursor }, binding, deps.cursorKeys, { now }), hasMore },
  };

  function parseSince(
    value: string | undefined,
    at: number,
    retention: number,
  ): { kind: "start" } | { kind: "time"; at: number } | { kind: "cursor"; cursor: FeedCursor } {
    if (value === undefined) return { kind: "start" };
    if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      const time = Date.parse(value);
      if (Number.isNaN(time)) throw new ValidationError("`since` is not a valid ISO time", { field: "since" });
      if (time < at - retention) throw expired();
      return { kind: "time", at: time };
    }
    let key: Record<string, unknown>;
    try {
      // A feed cursor lives as long as the changes it points at (a 410 past that, not the 24 h of page cursors).
      key = decodeCursor(value, binding, deps.cursorKeys, { now: at, maxAgeMs: retention });
    } catch (error) {
      if (error instanceof ValidationError && error.code === "CURSOR_EXPIRED") throw expired();
      throw error;
    }
    const parsed = feedCursorSchema.safeParse(key);
    if (!parsed.success) throw new ValidationError("Invalid cursor: malformed", { field: "since" }, "INVALID_REQUEST");
    return { kind: "cursor", cursor: parsed.data as FeedCursor };
  }

  function expired(): GoneError {
    return new GoneError(
      `\`since\` is older than the change feed's retention (${deps.retentionDays} days); resynchronise with a full list and start the feed again without \`since\`.`,
      { field: "since", retentionDays: deps.retentionDays },
    );
  }
}

const feedCursorSchema = z.object({
  p: z.record(
    z.string(),
    z.union([z.tuple([z.number().int().min(0)]), z.tuple([z.number().int().min(0), z.string()])]),
  ),
});

/** The first commit at or after `time`: the position just before it. */
async function positionAt(deps: ChangesDeps, p: Partition, time: number): Promise<Position> {
  let after = 0;
  for (;;) {
    const commits = await deps.repos.changes.commits(refOf(p), after, p.version, COMMITS_PER_PARTITION);
    for (const commit of commits) {
      if (Date.parse(commit.committedAt) >= time) return { v: commit.version - 1 };
      after = commit.version;
    }
    if (commits.length < COMMITS_PER_PARTITION) return { v: p.version };
  }
}

function position(stored: [number] | [number, string]): Position {
  return stored.length === 2 ? { v: stored[0], a: stored[1] } : { v: stored[0] };
}

function slot(p: Pick<Partition, "connectionId" | "dataType">): string {
  return createHash("sha256").update(`${p.connectionId}\u0000${p.dataType}`).digest("base64url").slice(0, 10);
}

function wire(record: ChangeRecord, p: Partition, commit: CommitRecord): ChangeWire {
  return {
    externalId: record.externalId,
    name: record.name,
    change: record.change,
    status: record.status,
    metadata: record.metadata,
    changedAt: record.changedAt,
    committedAt: commit.committedAt,
    jobId: record.jobId,
    connectionId: p.connectionId,
    dataType: p.dataType,
  };
}
