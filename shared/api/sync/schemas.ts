/** The sync routes' zod schemas: the trigger's body and the status query (edge validation), and the wire shapes of
 * their answers (the OpenAPI document). Wire format: DESIGN.md "REST API". */
import { z } from "zod";
import { jobStatusSchema, pauseReasonSchema, syncModeSchema } from "../../domain/entities.js";
import { connectionIdSchema, dataTypeSchema } from "../../domain/ids.js";

export const triggerBodySchema = z
  .object({
    connectionId: connectionIdSchema.optional(),
    dataType: dataTypeSchema.optional(),
    dataTypes: z.array(dataTypeSchema).min(1).max(100).optional(),
    mode: syncModeSchema.optional(),
    force: z.boolean().optional(),
  })
  .strict()
  .default({});
export type TriggerBody = z.output<typeof triggerBodySchema>;

export const triggerJobSchema = z.object({
  jobId: z.string().nullable(),
  connectionId: z.string(),
  dataType: z.string(),
  actionSlug: z.string(),
  status: z.enum(["pending", "syncing", "throttled", "paused"]),
  deduplicated: z.boolean(),
  retryAfterSeconds: z.number().int().optional(),
  /** Why a paused partition was not triggered: enroll the connection again (credentials, revoked) or fix the source. */
  pauseReason: pauseReasonSchema.optional(),
});
export type TriggerJob = z.infer<typeof triggerJobSchema>;
export const triggerResultSchema = z.object({ jobs: z.array(triggerJobSchema) });

export const statusQuerySchema = z.object({
  connectionId: connectionIdSchema.optional(),
  dataType: dataTypeSchema.optional(),
  status: jobStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(4096).optional(),
});
export type StatusQuery = z.output<typeof statusQuerySchema>;

const jobErrorWire = z.object({ code: z.string(), message: z.string() });

export const partitionStatusWireSchema = z.object({
  dataType: z.string(),
  connectionId: z.string(),
  status: z.enum(["idle", "queued", "syncing", "failed", "paused"]),
  pauseReason: z.string().optional(),
  freshness: z.enum(["fresh", "stale", "never"]),
  itemCount: z.number().int(),
  lastSyncedAt: z.string().nullable(),
  nextSyncAt: z.string().nullable(),
  lastJobStatus: jobStatusSchema.nullable(),
  lastError: jobErrorWire.optional(),
});
export type PartitionStatusWire = z.infer<typeof partitionStatusWireSchema>;

export const jobWireSchema = z.object({
  /** The seed's job `id`; the same value as `jobId`. */
  id: z.string(),
  jobId: z.string(),
  connectionId: z.string(),
  dataType: z.string(),
  status: jobStatusSchema,
  trigger: z.string(),
  mode: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  itemsFound: z.number().int(),
  itemsCreated: z.number().int(),
  itemsUpdated: z.number().int(),
  itemsDeleted: z.number().int(),
  itemsFailed: z.number().int(),
  error: jobErrorWire.optional(),
  warnings: z.array(z.string()).optional(),
});
export type JobWire = z.infer<typeof jobWireSchema>;

export const statusResultSchema = z.object({
  dataTypes: z.array(partitionStatusWireSchema),
  recentJobs: z.array(jobWireSchema),
});
export type StatusResult = z.infer<typeof statusResultSchema>;
