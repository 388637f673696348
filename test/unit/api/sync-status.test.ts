import { describe, expect, it } from "vitest";
import { freshnessOf } from "../../../shared/api/sync/status.js";
import type { Partition } from "../../../shared/domain/entities.js";

const t0 = Date.parse("2026-01-01T00:00:00Z");
const partition = (patch: Partial<Partition>): Partition => ({
  tenantId: "t",
  integrationId: "i",
  connectionId: "default",
  dataType: "users",
  status: "idle",
  syncType: "list",
  version: 1,
  manifestChunks: 0,
  objectChunks: 0,
  itemCount: 0,
  nextSyncAt: new Date(t0).toISOString(),
  consecutiveFailures: 0,
  createdAt: new Date(t0).toISOString(),
  updatedAt: new Date(t0).toISOString(),
  ...patch,
});

describe("freshnessOf", () => {
  const synced = new Date(t0).toISOString();

  it("is never for a partition that has not synced", () => {
    expect(freshnessOf(partition({ version: 0 }), 60, t0)).toBe("never");
  });

  it("is fresh within the TTL and stale after it", () => {
    expect(freshnessOf(partition({ lastSyncedAt: synced }), 60, t0 + 60_000)).toBe("fresh");
    expect(freshnessOf(partition({ lastSyncedAt: synced }), 60, t0 + 60_001)).toBe("stale");
  });

  it("is stale for a failed or paused partition even within the TTL", () => {
    expect(freshnessOf(partition({ lastSyncedAt: synced, status: "failed" }), 3600, t0)).toBe("stale");
    expect(freshnessOf(partition({ lastSyncedAt: synced, status: "paused" }), 3600, t0)).toBe("stale");
  });
});
