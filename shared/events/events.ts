/**
 * The service's events (DESIGN.md "Events"): one per committed or finally failed job, put on the stack's EventBridge
 * bus after the commit, at least once (consumers dedupe by `jobId`), never for work that did not commit. The worker
 * and discovery publish through the `EventPublisher` port; the CDK stack wires EventBridge, the local stack a JSON-lines
 * file (plus the local webhook queue, standing in for the bus rule).
 */
import { z } from "zod";
import type { Job, PauseReason } from "../domain/entities.js";

export const EVENT_SOURCE = "reference-data-sync";

export const eventTypeSchema = z.enum(["Sync Completed", "Sync Failed", "Partition Paused", "Discovery Completed"]);
export type EventType = z.infer<typeof eventTypeSchema>;

export const eventCountsSchema = z.object({
  found: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  deactivated: z.number().int(),
  deleted: z.number().int(),
  failed: z.number().int(),
});
export type EventCounts = z.infer<typeof eventCountsSchema>;

/** `detail` of every event: the tenant always; the partition and job fields for sync events. */
export const eventDetailSchema = z
  .object({
    tenantId: z.string(),
    integrationId: z.string().optional(),
    connectionId: z.string().optional(),
    dataType: z.string().optional(),
    jobId: z.string().optional(),
    trigger: z.string().optional(),
    mode: z.string().optional(),
    counts: eventCountsSchema.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    pauseReason: z.string().optional(),
  })
  .catchall(z.unknown());
export type EventDetail = z.infer<typeof eventDetailSchema>;

/** An event as EventBridge delivers it to a rule target (and as events.jsonl and webhooks carry it). */
export const serviceEventSchema = z.object({
  id: z.string().optional(),
  source: z.literal(EVENT_SOURCE),
  "detail-type": eventTypeSchema,
  time: z.string(),
  detail: eventDetailSchema,
});
export type ServiceEvent = z.infer<typeof serviceEventSchema>;

/** Where events go. `publish` resolves once every event was accepted, and throws otherwise (the caller retries). */
export interface EventPublisher {
  publish(events: ServiceEvent[]): Promise<void>;
}

export const noopPublisher: EventPublisher = { publish: async () => {} };

/** The event of a finished job, with the job's own counts. */
export function jobEvent(
  type: "Sync Completed" | "Sync Failed" | "Partition Paused",
  job: Job,
  now: string,
  pauseReason?: PauseReason,
): ServiceEvent {
  const detail: EventDetail = {
    tenantId: job.tenantId,
    integrationId: job.integrationId,
    connectionId: job.connectionId,
    dataType: job.dataType,
    jobId: job.jobId,
    trigger: job.trigger,
    mode: job.mode,
    counts: {
      found: job.itemsFound,
      created: job.itemsCreated,
      updated: job.itemsUpdated,
      deactivated: job.itemsDeactivated,
      deleted: job.itemsDeleted - job.itemsDeactivated,
      failed: job.itemsFailed,
    },
  };
  if (job.error) detail.error = { code: job.error.code, message: job.error.message };
  if (pauseReason) detail.pauseReason = pauseReason;
  return { source: EVENT_SOURCE, "detail-type": type, time: now, detail };
}

/** `Discovery Completed`: what discovery calls when a run finished (its report's counts go in `detail`). */
export function discoveryEvent(tenantId: string, now: string, report: Record<string, unknown> = {}): ServiceEvent {
  return { source: EVENT_SOURCE, "detail-type": "Discovery Completed", time: now, detail: { ...report, tenantId } };
}
