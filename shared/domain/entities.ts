import { z } from "zod";
import { connectionIdSchema, dataTypeSchema, idSchema } from "./ids.js";
import { API_KEY_SCOPES } from "./scopes.js";

export const connectionStatusSchema = z.enum(["active", "revoked"]);
export const connectionSchema = z.object({
  tenantId: idSchema,
  integrationId: idSchema,
  connectionId: connectionIdSchema,
  status: connectionStatusSchema,
  /** Waygate's primary connection of the integration (recorded by discovery): what reads without a connection use. */
  isPrimary: z.boolean().optional(),
  enrolledAt: z.string(),
  revokedAt: z.string().optional(),
  /** Paused by PATCH: its partitions are paused `manual` (data still served, stale) until resumed. */
  paused: z.boolean().optional(),
  /** Overrides its sources' `defaultTtlSeconds` (≥ 60). */
  ttlSeconds: z.number().int().min(60).optional(),
  updatedAt: z.string(),
  /** `discovered`: enrolled by discovery, which also revokes it when Waygate no longer lists it. */
  origin: z.enum(["manual", "discovered"]).optional(),
  /** The connection's status in Waygate at the last discovery (`error`/`disabled` pause its partitions). */
  gatewayStatus: z.enum(["active", "error", "disabled"]).optional(),
});
export type Connection = z.infer<typeof connectionSchema>;

export const partitionStatusSchema = z.enum(["idle", "queued", "syncing", "failed", "paused"]);
export type PartitionStatus = z.infer<typeof partitionStatusSchema>;
/**
 * Why a partition is paused: its credentials are gone, its source config is broken, it was revoked/removed, the
 * tenant's Waygate key is missing or refused (`gateway_key`), or Waygate reports its connection in error or disabled.
 */
export const pauseReasonSchema = z.enum([
  "credentials",
  "config",
  "revoked",
  "source_deleted",
  "manual",
  "gateway_key",
  "connection_error",
  "connection_disabled",
]);
export type PauseReason = z.infer<typeof pauseReasonSchema>;

export const jobErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type JobError = z.infer<typeof jobErrorSchema>;

export const jobStatusSchema = z.enum(["pending", "syncing", "completed", "failed"]);
export type JobStatus = z.infer<typeof jobStatusSchema>;
export const syncModeSchema = z.enum(["full", "incremental"]);
export type SyncMode = z.infer<typeof syncModeSchema>;
export const syncTriggerSchema = z.enum(["schedule", "manual", "event"]);
export type SyncTrigger = z.infer<typeof syncTriggerSchema>;

/** Scheduling, leasing and last-outcome state of one partition. */
export const partitionSchema = z.object({
  tenantId: idSchema,
  integrationId: idSchema,
  connectionId: connectionIdSchema,
  dataType: dataTypeSchema,
  status: partitionStatusSchema,
  pauseReason: pauseReasonSchema.optional(),
  syncType: z.enum(["list", "object"]),
  /** Committed data version: manifest and object chunks are read under it. 0 = never synced. */
  version: z.number().int().min(0),
  manifestChunks: z.number().int().min(0).default(0),
  objectChunks: z.number().int().min(0).default(0),
  /** Active items as of the last successful sync. */
  itemCount: z.number().int().min(0).default(0),
  /** Items of any status (active, inactive, deleted) as of the last successful sync; absent before it. */
  totalCount: z.number().int().min(0).optional(),
  nextSyncAt: z.string(),
  lastSyncedAt: z.string().optional(),
  /** Start of the last successful sync: the base of the next incremental `since`. */
  lastSyncStartedAt: z.string().optional(),
  /** Start of the last successful full sync (a change made while it ran may have been missed). */
  lastFullSyncAt: z.string().optional(),
  consecutiveFailures: z.number().int().min(0).default(0),
  lastError: jobErrorSchema.optional(),
  lastJobId: z.string().optional(),
  lastJobStatus: jobStatusSchema.optional(),
  /** The job that made the committed data version (its staged changes are that version's change-feed rows). */
  dataJobId: z.string().optional(),
  /**
   * The lookup index snapshot the committed version is served from: the id of the write its commit recorded. Absent
   * when none is (readers then read the items). See shared/lookup/snapshot.ts "Which snapshot".
   */
  snapshotId: z.string().optional(),
  /** The job a `queued`/`syncing` partition belongs to. */
  currentJobId: z.string().optional(),
  /** Deadline by which a `queued` partition must be picked up, or when a `syncing` lease expires. */
  deadlineAt: z.string().optional(),
  leaseOwner: z.string().optional(),
  lastManualTriggerAt: z.string().optional(),
  /** Set by a claim: the status and job it replaced ("" when none). See `takenOverJobId`. */
  claimedFromStatus: z.string().optional(),
  claimedFromJobId: z.string().optional(),
  /** Source revision a config-paused partition failed on. */
  sourceRevision: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Partition = z.infer<typeof partitionSchema>;

/**
 * The job a claim took over, from the partition the claim returned: a `queued` or `syncing` job whose deadline had
 * passed (its worker died or its message was lost). Undefined when the claim started from idle or failed.
 */
export function takenOverJobId(claimed: Pick<Partition, "claimedFromStatus" | "claimedFromJobId">): string | undefined {
  const { claimedFromStatus: status, claimedFromJobId: jobId } = claimed;
  return (status === "queued" || status === "syncing") && jobId ? jobId : undefined;
}

/** Why a partition cannot be claimed for a job now (`claimRefusal`, or `gone` when it does not exist). */
export type ClaimRefusal =
  | { reason: "in_flight"; jobId?: string }
  | { reason: "throttled"; retryAfterMs: number; lastJobId?: string }
  | { reason: "paused"; pauseReason?: PauseReason; lastJobId?: string }
  | { reason: "not_due" }
  | { reason: "gone" };

/**
 * Why a claim without a due key (trigger, external message) cannot take the partition as it is now, or undefined when
 * it can: in flight (queued or syncing before its deadline; its job), throttled (a manual trigger less than
 * `manualMinIntervalMs` ago; how long to wait), paused (its reason). A claim that lost to a partition this finds
 * claimable raced a change (a worker finishing): `not_due`.
 */
export function claimRefusal(
  current: Partition,
  now: number,
  manualMinIntervalMs?: number,
): Exclude<ClaimRefusal, { reason: "gone" }> | undefined {
  const inFlight = current.status === "queued" || current.status === "syncing";
  if (inFlight && !(current.deadlineAt !== undefined && Date.parse(current.deadlineAt) < now)) {
    return current.currentJobId === undefined
      ? { reason: "in_flight" }
      : { reason: "in_flight", jobId: current.currentJobId };
  }
  const lastJob = current.lastJobId === undefined ? {} : { lastJobId: current.lastJobId };
  if (manualMinIntervalMs !== undefined && current.lastManualTriggerAt !== undefined) {
    const retryAfterMs = Date.parse(current.lastManualTriggerAt) + manualMinIntervalMs - now;
    if (retryAfterMs >= 0) return { reason: "throttled", retryAfterMs, ...lastJob };
  }
  if (current.status === "paused") {
    return { reason: "paused", ...lastJob, ...(current.pauseReason ? { pauseReason: current.pauseReason } : {}) };
  }
  return undefined;
}

export const itemStatusSchema = z.enum(["active", "inactive", "deleted"]);
export type ItemStatus = z.infer<typeof itemStatusSchema>;

/**
 * An item's content: what the extractor reads from its upstream record (shared/extraction/extract.ts), declared once.
 * The stored row (`itemSchema`) carries it whole, the content hash covers every field of it (so a change of any field
 * is written), and the wire item (`referenceItemWireSchema`, and so the OpenAPI document) serves every field but the
 * internal ones. A new field is optional, so rows written before it still parse (CONTRIBUTING.md "A new item field").
 */
export const itemContentSchema = z.object({
  /** Never empty: the extractor fails a record without an id, and the item's key refuses an empty one. */
  externalId: z.string(),
  name: z.string(),
  /** Values of the lookup fields, keyed by the configured path. Internal: what matching reads. */
  lookup: z.record(z.string(), z.string()).default({}),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type ItemContent = z.output<typeof itemContentSchema>;

/** Content fields stored and hashed but never served. */
export const INTERNAL_ITEM_CONTENT = ["lookup"] as const satisfies readonly (keyof ItemContent)[];
export type ServedItemContent = Omit<ItemContent, (typeof INTERNAL_ITEM_CONTENT)[number]>;

const CONTENT_FIELDS = Object.keys(itemContentSchema.shape) as (keyof ItemContent)[];
const SERVED_FIELDS = CONTENT_FIELDS.filter(
  (field) => !(INTERNAL_ITEM_CONTENT as readonly string[]).includes(field),
) as (keyof ServedItemContent)[];

/** The declared content of an item (extracted or stored) and nothing else: what a row copies and the hash covers. */
export function itemContentOf(item: ItemContent): ItemContent {
  return pickDefined(item, CONTENT_FIELDS) as ItemContent;
}

/** The content an item serves: `itemContentOf` without the internal fields. */
export function servedItemContentOf(item: ItemContent): ServedItemContent {
  return pickDefined(item, SERVED_FIELDS) as ServedItemContent;
}

function pickDefined<T extends object>(item: T, fields: readonly (keyof T)[]): Partial<T> {
  const picked: Partial<T> = {};
  for (const field of fields) if (item[field] !== undefined) picked[field] = item[field];
  return picked;
}

/** One cached record of a list partition: its content and the sync's bookkeeping. */
export const itemSchema = itemContentSchema.extend({
  status: itemStatusSchema,
  inactiveSince: z.string().optional(),
  contentHash: z.string(),
  /** The job that last wrote this item and whether it created or updated it: resumed syncs count correctly. */
  jobId: z.string(),
  change: z.enum(["created", "updated", "status"]),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Epoch seconds: DynamoDB TTL removes an inactive or deleted item INACTIVE_RETENTION_DAYS after the transition. */
  expiresAt: z.number().int().optional(),
});
export type Item = z.infer<typeof itemSchema>;

/** The whole cached response of an object partition. */
export interface StoredObject {
  dataType: string;
  version: number;
  object: unknown;
  syncedAt: string;
  bytes: number;
}

/** One sync attempt of one partition. */
export const jobSchema = z.object({
  tenantId: idSchema,
  integrationId: idSchema,
  connectionId: connectionIdSchema,
  dataType: dataTypeSchema,
  jobId: z.string(),
  status: jobStatusSchema,
  trigger: syncTriggerSchema,
  mode: syncModeSchema,
  actionSlug: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  itemsFound: z.number().int().default(0),
  itemsCreated: z.number().int().default(0),
  itemsUpdated: z.number().int().default(0),
  itemsDeleted: z.number().int().default(0),
  itemsFailed: z.number().int().default(0),
  /** Of itemsDeleted, those a full sync deactivated (not seen); the rest were marked deleted upstream. */
  itemsDeactivated: z.number().int().default(0),
  itemsDuplicate: z.number().int().default(0),
  pages: z.number().int().default(0),
  invocations: z.number().int().default(0),
  error: jobErrorSchema.optional(),
  warnings: z.array(z.string()).default([]),
  /** Where a sync that ran out of time resumes: pagination state and the checkpoint chunks of what it has seen. */
  checkpoint: z
    .object({
      page: z.number().int().min(0),
      state: z.record(z.string(), z.unknown()),
      chunks: z.number().int().min(0),
      savedAt: z.string(),
    })
    .optional(),
  /** Epoch seconds: DynamoDB TTL removes jobs 90 days after creation. */
  expiresAt: z.number().int(),
});
export type Job = z.infer<typeof jobSchema>;

export const JOB_RETENTION_SECONDS = 90 * 86_400;

export const apiKeyScopeSchema = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>;

/** An API key as listed: never the key or its hash. */
export const apiKeySchema = z.object({
  tenantId: idSchema,
  keyId: z.string(),
  name: z.string(),
  scopes: z.array(apiKeyScopeSchema),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});
export type ApiKey = z.infer<typeof apiKeySchema>;

/** A tenant's Waygate API key as stored: encrypted, never returned. */
export const gatewayCredentialsSchema = z.object({
  tenantId: idSchema,
  /** The encrypted key (base64 JSON envelope of the cipher). */
  ciphertext: z.string().min(1),
  /** Changes with every save: a cached key is current only while this matches. */
  version: z.string().min(1),
  keyHint: z.string(),
  status: z.enum(["valid", "invalid"]),
  verifiedAt: z.string(),
  invalidAt: z.string().optional(),
  updatedAt: z.string(),
});
export type GatewayCredentials = z.infer<typeof gatewayCredentialsSchema>;
