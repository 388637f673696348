import { describe, expect, it } from "vitest";
import { referenceDataConfigSchema } from "../../../shared/domain/source-config.js";
import { firstPage } from "../../../shared/gateway/pagination.js";
import {
  decodeCheckpoint,
  decodePageState,
  encodeCheckpoint,
  pageStateRecord,
  type SyncCheckpoint,
} from "../../../shared/sync/checkpoint.js";
import { decideMode, incrementalSince } from "../../../shared/sync/mode.js";

describe("checkpoint format", () => {
  it("round-trips what a sync has seen, its counts and its finish progress through JSON", () => {
    const checkpoint: SyncCheckpoint = {
      mode: "incremental",
      force: true,
      invocation: 3,
      reconcile: false,
      seen: new Map([
        ["U1", { hash: "aaaa", status: "active" }],
        ["U2", { hash: "bbbb", status: "deleted" }],
      ]),
      itemsFailed: 2,
      itemsDuplicate: 1,
      pages: 7,
      phase: "finishing",
      deactivated: 500,
    };
    const stored = JSON.parse(JSON.stringify(encodeCheckpoint(checkpoint)));
    expect(decodeCheckpoint(stored)).toEqual(checkpoint);
  });

  it("rejects anything it did not write, so the sync starts over instead of trusting it", () => {
    expect(decodeCheckpoint(undefined)).toBeUndefined();
    expect(decodeCheckpoint({ v: 2 })).toBeUndefined();
    expect(decodeCheckpoint({ v: 1, mode: "full", seen: [["U1", "h", "x"]] })).toBeUndefined();
  });

  it("round-trips the pagination state kept on the job", () => {
    const pagination = referenceDataConfigSchema.parse({
      dataType: "users",
      extractionPath: "$.members[*]",
      pagination: { strategy: "cursor", cursorPath: "next", cursorParam: "cursor", limitParam: "limit", pageSize: 5 },
    }).pagination;
    const state = { ...firstPage(pagination, { team: "T1" }), page: 4, seenCursors: ["abc"] };
    expect(decodePageState(JSON.parse(JSON.stringify(pageStateRecord(state))))).toEqual(state);
    expect(decodePageState({ page: -1 })).toBeUndefined();
  });
});

describe("decideMode", () => {
  const base = { dataType: "users", extractionPath: "$.members[*]" };
  const incremental = referenceDataConfigSchema.parse({
    ...base,
    incremental: { sinceParam: "updated_since", fullSyncEverySeconds: 3600 },
  });
  const now = Date.parse("2025-06-01T12:00:00Z");
  const synced = {
    version: 3,
    lastSyncStartedAt: "2025-06-01T11:30:00.000Z",
    lastFullSyncAt: "2025-06-01T11:31:00.000Z",
  };

  it("runs incremental while the last full sync is younger than fullSyncEverySeconds", () => {
    expect(decideMode(incremental, synced, undefined, now)).toBe("incremental");
    expect(decideMode(incremental, synced, "incremental", now)).toBe("incremental");
  });

  it("runs full when asked, when due for a full sync, when never synced, or without incremental support", () => {
    expect(decideMode(incremental, synced, "full", now)).toBe("full");
    expect(decideMode(incremental, { ...synced, lastFullSyncAt: "2025-06-01T10:59:00.000Z" }, undefined, now)).toBe(
      "full",
    );
    expect(decideMode(incremental, { version: 0 }, undefined, now)).toBe("full");
    expect(decideMode(referenceDataConfigSchema.parse(base), synced, "incremental", now)).toBe("full");
  });

  it("asks for changes since the START of the last successful sync minus the skew", () => {
    expect(incrementalSince({ lastSyncStartedAt: "2025-06-01T11:30:00.000Z" }, 300_000)).toBe(
      "2025-06-01T11:25:00.000Z",
    );
    expect(incrementalSince({})).toBeUndefined();
  });
});
