/**
 * PATCH /integrations/{id}/connections/{connectionId} `{ paused?, ttlSeconds? }` (DESIGN.md "REST API"): pausing
 * pauses the connection's partitions (`pauseReason: manual`; their data stays served, marked stale), so neither the
 * planner (a paused partition has no due-index entry) nor a trigger (409) syncs them; resuming makes them due now. A
 * TTL override replaces its sources' `defaultTtlSeconds` for every later sync and moves an idle partition's next sync
 * to its last sync + the new TTL; `null` clears it. The worker also refuses to sync a paused connection.
 */
import { z } from "zod";
import type { Clock } from "../domain/clock.js";
import type { Connection, Partition } from "../domain/entities.js";
import type { PartitionRef } from "../domain/ids.js";
import type { Repositories } from "../storage/ports.js";

export const MIN_TTL_SECONDS = 60;

export const connectionPatchSchema = z
  .object({
    paused: z.boolean().optional().describe("true: stop syncing (data stays served, stale); false: resume"),
    ttlSeconds: z
      .number()
      .int()
      .min(MIN_TTL_SECONDS)
      .max(365 * 86_400)
      .nullable()
      .optional()
      .describe("Overrides the sources' defaultTtlSeconds for this connection; null clears it"),
  })
  .strict()
  .refine((body) => body.paused !== undefined || body.ttlSeconds !== undefined, {
    message: "give `paused` or `ttlSeconds`",
  });
export type ConnectionPatch = z.output<typeof connectionPatchSchema>;

export const connectionSettingsResultSchema = z.object({
  connection: z.object({
    connectionId: z.string(),
    status: z.enum(["active", "revoked"]),
    paused: z.boolean(),
    ttlSeconds: z.number().int().nullable(),
    updatedAt: z.string(),
  }),
  partitions: z.object({ paused: z.number().int(), resumed: z.number().int(), rescheduled: z.number().int() }),
});
export type ConnectionSettingsResult = z.infer<typeof connectionSettingsResultSchema>;

export async function patchConnection(
  deps: { repos: Pick<Repositories, "connections" | "partitions">; clock: Clock },
  scope: { tenantId: string; integrationId: string; connectionId: string },
  body: ConnectionPatch,
): Promise<ConnectionSettingsResult> {
  const { repos, clock } = deps;
  const now = clock.now();
  const settings: { paused?: boolean; ttlSeconds?: number | null } = {};
  if (body.paused !== undefined) settings.paused = body.paused;
  if (body.ttlSeconds !== undefined) settings.ttlSeconds = body.ttlSeconds;
  const connection = await repos.connections.updateSettings(
    scope.tenantId,
    scope.integrationId,
    scope.connectionId,
    settings,
    now,
  );
  const partitions = await repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
    connectionId: scope.connectionId,
  });
  const counts = { paused: 0, resumed: 0, rescheduled: 0 };
  for (const partition of partitions) {
    const ref = refOf(partition);
    if (body.paused === true && partition.status !== "paused") {
      await repos.partitions.pause(ref, "manual", now);
      counts.paused++;
    } else if (body.paused === false && partition.status === "paused" && partition.pauseReason === "manual") {
      await repos.partitions.resume(ref, now);
      counts.resumed++;
    } else if (body.ttlSeconds !== undefined && !connection.paused && partition.lastSyncedAt) {
      const next = nextSyncAt(partition, connection, now);
      if (next !== undefined && (await repos.partitions.reschedule(ref, next, now))) counts.rescheduled++;
    }
  }
  return {
    connection: {
      connectionId: connection.connectionId,
      status: connection.status,
      paused: connection.paused === true,
      ttlSeconds: connection.ttlSeconds ?? null,
      updatedAt: connection.updatedAt,
    },
    partitions: counts,
  };
}

/** With an override: last sync + the override (now at the earliest). Cleared: the next sync sets it from the source. */
function nextSyncAt(partition: Partition, connection: Connection, now: number): number | undefined {
  if (connection.ttlSeconds === undefined || !partition.lastSyncedAt) return undefined;
  return Math.max(now, Date.parse(partition.lastSyncedAt) + connection.ttlSeconds * 1000);
}

function refOf(p: Partition): PartitionRef {
  return { tenantId: p.tenantId, integrationId: p.integrationId, connectionId: p.connectionId, dataType: p.dataType };
}
