import { z } from "zod";
import { syncModeSchema, syncTriggerSchema } from "./entities.js";
import { connectionIdSchema, dataTypeSchema, idSchema } from "./ids.js";

/**
 * The sync queue message: also the contract for other services that enqueue on-demand syncs.
 * `continuation` is set by a worker that ran out of time and resumes from the job's checkpoint.
 */
export const syncMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("sync").default("sync"),
    tenantId: idSchema,
    integrationId: idSchema,
    connectionId: connectionIdSchema,
    dataType: dataTypeSchema,
    mode: syncModeSchema.optional(),
    trigger: syncTriggerSchema,
    jobId: z.string().min(1).max(64).optional(),
    force: z.boolean().optional(),
    continuation: z.object({ page: z.number().int().min(0) }).optional(),
    /**
     * Set by the planner when it takes a partition over from a job that died or lost its message: item rows may hold
     * versions that job wrote but never committed, so the sync reads them back before diffing.
     */
    reconcile: z.boolean().optional(),
  })
  .strict();
export type SyncMessage = z.infer<typeof syncMessageSchema>;

/**
 * Creates the partitions implied by a saved source (`dataType`) or an enrolled connection (`connectionId`) when there
 * are too many to create inside an API call.
 */
export const fanoutMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("fanout"),
    tenantId: idSchema,
    integrationId: idSchema,
    connectionId: connectionIdSchema.optional(),
    dataType: dataTypeSchema.optional(),
  })
  .strict();
export type FanoutMessage = z.infer<typeof fanoutMessageSchema>;

/** Runs the tenant's discovery (DESIGN.md "Gateway credentials and discovery"); `runId` names the queued run. */
export const discoverMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("discover"),
    tenantId: idSchema,
    runId: z.string().min(1).max(64).optional(),
  })
  .strict();
export type DiscoverMessage = z.infer<typeof discoverMessageSchema>;

/**
 * Lifecycle (DESIGN.md "Lifecycle"): `purge` deletes a revoked connection's or deleted source's partition data once its
 * retention has passed; `erase` deletes every row of a tenant, a page of a Scan at a time (`startKey` resumes it).
 */
export const purgeMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("purge"),
    tenantId: idSchema,
    integrationId: idSchema,
    connectionId: connectionIdSchema,
    dataType: dataTypeSchema,
  })
  .strict();
export type PurgeMessage = z.infer<typeof purgeMessageSchema>;

export const eraseMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("erase"),
    tenantId: idSchema,
    /** `data`: everything but the API keys and the progress row; `final`: a second pass that removes those too. */
    phase: z.enum(["data", "final"]),
    startKey: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type EraseMessage = z.infer<typeof eraseMessageSchema>;

/** The messages the planner, the API and other services put on the sync queue (`erase` is the worker's own, above). */
export const queueMessageSchema = z.union([
  fanoutMessageSchema,
  purgeMessageSchema,
  discoverMessageSchema,
  syncMessageSchema,
]);
export type QueueMessage = z.infer<typeof queueMessageSchema>;
