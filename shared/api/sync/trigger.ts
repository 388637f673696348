/**
 * POST …/reference-data/sync: claim the matching partitions, create their jobs, enqueue them. Takes its dependencies
 * as arguments so integration tests run it against dynalite and fauxqs. Wire format: DESIGN.md "REST API".
 */
import { mapLimit } from "../../concurrency.js";
import type { Clock } from "../../domain/clock.js";
import type { Partition, SyncMode } from "../../domain/entities.js";
import { ConflictError, InternalError, NotFoundError, RateLimitedError, ValidationError } from "../../domain/errors.js";
import type { PartitionRef } from "../../domain/ids.js";
import type { Source } from "../../domain/source-config.js";
import type { SyncMessage } from "../../domain/sync-message.js";
import { ulid } from "../../domain/ulid.js";
import type { Logger } from "../../log.js";
import type { Repositories } from "../../storage/ports.js";
import { type Claim, claimPartition } from "../../sync/claims.js";
import { MANUAL_MIN_INTERVAL_MS, REQUEUE_WINDOW_MS } from "../../sync/durations.js";
import type { SyncQueue } from "../../sync/sync-queue.js";
import type { TriggerBody, TriggerJob } from "./schemas.js";

/** Manual triggers at most once a minute; a queued partition's requeue window (shared/sync/durations.ts). */
export { MANUAL_MIN_INTERVAL_MS, REQUEUE_WINDOW_MS };

/** Partitions one trigger may touch: more than this would not fit a 29-second API call; narrow the request. */
const MAX_TRIGGER_PARTITIONS = 200;
/** Claims in flight at once. */
const CONCURRENCY = 16;

export interface TriggerDeps {
  repos: Pick<Repositories, "sources" | "connections" | "partitions" | "jobs">;
  queue: SyncQueue | undefined;
  clock: Clock;
  log: Logger;
}

export interface TriggerOutcome {
  /** 202 when at least one job was created or found; the route turns all-throttled into a 429. */
  jobs: TriggerJob[];
}

interface Target {
  ref: PartitionRef;
  source: Source;
  partition: Partition | undefined;
}

/**
 * Triggers syncs of the partitions matching `body` (connection and data types; all when unset). Each partition is
 * claimed as a manual trigger (at most once a minute), gets a `pending` job, and its message is sent to the queue.
 * A partition with a job already pending, queued or syncing returns that job with `deduplicated: true`; one triggered
 * under a minute ago is `throttled` with `retryAfterSeconds`. Throws NotFoundError when nothing matches, and
 * RateLimitedError (429) when every matched partition is throttled.
 */
export async function triggerSync(
  deps: TriggerDeps,
  input: { tenantId: string; integrationId: string; body: TriggerBody },
): Promise<TriggerOutcome> {
  const { repos, clock, log } = deps;
  const { tenantId, integrationId, body } = input;
  if (!deps.queue) throw new InternalError("The sync queue is not configured (QUEUE_URL)");
  const dataTypes = [...new Set([...(body.dataTypes ?? []), ...(body.dataType ? [body.dataType] : [])])];

  const targets = await matchTargets(repos, tenantId, integrationId, body.connectionId, dataTypes);
  if (targets.length > MAX_TRIGGER_PARTITIONS) {
    throw new ValidationError(
      `This trigger matches ${targets.length} partitions; at most ${MAX_TRIGGER_PARTITIONS} per request. Narrow it with connectionId or dataTypes.`,
      { field: "connectionId", matched: targets.length, limit: MAX_TRIGGER_PARTITIONS },
    );
  }

  const now = clock.now();
  const messages: SyncMessage[] = [];
  const jobs = await mapLimit(targets, CONCURRENCY, async (target): Promise<TriggerJob> => {
    const result = await triggerOne(deps, target, body, now);
    if (result.message) messages.push(result.message);
    return result.job;
  });

  if (messages.length > 0) {
    const sent = await deps.queue.send(messages);
    if (sent.failed.length > 0) {
      // The partitions stay `queued` with a pending job: the due index brings them back at the requeue deadline.
      log.error("trigger: some sync messages could not be sent", {
        tenantId,
        integrationId,
        failed: sent.failed.length,
        requeueWindowMs: REQUEUE_WINDOW_MS,
      });
    }
  }

  const actionable = jobs.filter((job) => job.status !== "paused");
  if (jobs.length > 0 && actionable.length === 0) {
    throw new ConflictError(
      "Every matching partition is paused: enroll the connection again (credentials, revoked) or save the source (config)",
      { jobs },
    );
  }
  const throttled = actionable.filter((job) => job.status === "throttled");
  if (throttled.length > 0 && throttled.length === actionable.length) {
    const retryAfterSeconds = Math.max(1, Math.min(...throttled.map((job) => job.retryAfterSeconds ?? 60)));
    throw new RateLimitedError(
      `Every matching partition was triggered less than ${MANUAL_MIN_INTERVAL_MS / 1000} seconds ago`,
      retryAfterSeconds,
      { jobs },
    );
  }
  return { jobs };
}

async function matchTargets(
  repos: TriggerDeps["repos"],
  tenantId: string,
  integrationId: string,
  connectionId: string | undefined,
  dataTypes: string[],
): Promise<Target[]> {
  const [sources, connections, partitions] = await Promise.all([
    repos.sources.list(tenantId, integrationId),
    repos.connections.list(tenantId, integrationId),
    repos.partitions.listByIntegration(tenantId, integrationId, connectionId === undefined ? {} : { connectionId }),
  ]);
  if (sources.length === 0 && connections.length === 0) {
    throw new NotFoundError(
      `Integration '${integrationId}' has no sources or connections`,
      { integrationId },
      "INTEGRATION_NOT_FOUND",
    );
  }
  const syncable = sources.filter((s) => s.referenceData.syncable);
  const wantedSources = dataTypes.length === 0 ? syncable : syncable.filter((s) => dataTypes.includes(s.dataType));
  const missingTypes = dataTypes.filter((t) => !wantedSources.some((s) => s.dataType === t));
  if (missingTypes.length > 0) {
    throw new NotFoundError(`No syncable source for data type(s) ${missingTypes.join(", ")}`, {
      integrationId,
      dataTypes: missingTypes,
    });
  }
  const active = connections.filter(
    (c) => c.status === "active" && (connectionId === undefined || c.connectionId === connectionId),
  );
  if (connectionId !== undefined && active.length === 0) {
    throw new NotFoundError(`No active connection '${connectionId}'`, { integrationId, connectionId });
  }
  const byKey = new Map(partitions.map((p) => [`${p.connectionId}#${p.dataType}`, p]));
  const targets: Target[] = [];
  for (const connection of active) {
    for (const source of wantedSources) {
      targets.push({
        ref: { tenantId, integrationId, connectionId: connection.connectionId, dataType: source.dataType },
        source,
        partition: byKey.get(`${connection.connectionId}#${source.dataType}`),
      });
    }
  }
  if (targets.length === 0) {
    throw new NotFoundError("No partition matches: configure a source and enroll a connection first", {
      integrationId,
      ...(connectionId === undefined ? {} : { connectionId }),
    });
  }
  return targets;
}

async function triggerOne(
  deps: TriggerDeps,
  target: Target,
  body: TriggerBody,
  now: number,
): Promise<{ job: TriggerJob; message?: SyncMessage }> {
  const { repos } = deps;
  const { ref, source } = target;
  const base = { connectionId: ref.connectionId, dataType: ref.dataType, actionSlug: source.actionSlug };

  if (!target.partition) {
    // Source and connection exist but the fan-out has not created this partition yet: create it now.
    await repos.partitions.ensure(ref, { syncType: source.referenceData.syncType, now });
  }

  const jobId = ulid(now);
  let claim: Claim;
  for (let attempt = 0; ; attempt++) {
    claim = await claimPartition(deps, ref, {
      jobId,
      now,
      requeueDeadline: now + REQUEUE_WINDOW_MS,
      manualMinIntervalMs: MANUAL_MIN_INTERVAL_MS,
    });
    if (claim.claimed) break;
    const { refusal } = claim;
    if (refusal.reason === "gone") throw new NotFoundError("Partition not found", { ...ref });
    if (refusal.reason === "in_flight" && refusal.jobId) {
      return { job: await dedupedJob(repos, ref, refusal.jobId, base) };
    }
    if (refusal.reason === "throttled") {
      return {
        job: {
          ...base,
          jobId: refusal.lastJobId ?? null,
          status: "throttled",
          deduplicated: false,
          retryAfterSeconds: Math.max(1, Math.ceil(refusal.retryAfterMs / 1000)),
        },
      };
    }
    if (refusal.reason === "paused") {
      const paused: TriggerJob = { ...base, jobId: refusal.lastJobId ?? null, status: "paused", deduplicated: false };
      if (refusal.pauseReason) paused.pauseReason = refusal.pauseReason;
      return { job: paused };
    }
    // The partition changed between the claim and its diagnosis (a worker finished): try again, briefly.
    if (attempt >= 2) throw new ConflictError(`Partition is not claimable (${refusal.reason})`, { ...ref });
  }

  const incremental = source.referenceData.incremental !== undefined;
  const mode: SyncMode = incremental && body.mode !== "full" ? "incremental" : "full";
  await repos.jobs.create({
    ref,
    jobId,
    trigger: "manual",
    mode,
    actionSlug: source.actionSlug,
    now,
  });
  const message: SyncMessage = {
    v: 1,
    kind: "sync",
    tenantId: ref.tenantId,
    integrationId: ref.integrationId,
    connectionId: ref.connectionId,
    dataType: ref.dataType,
    trigger: "manual",
    jobId,
  };
  // Without an explicit mode the worker decides (it knows when the last full sync ran).
  if (body.mode) message.mode = mode;
  if (body.force) message.force = true;
  // The dead job may have written rows it never committed: the worker reads them back before diffing.
  if (claim.reconcile) message.reconcile = true;
  return { job: { ...base, jobId, status: "pending", deduplicated: false }, message };
}

async function dedupedJob(
  repos: TriggerDeps["repos"],
  ref: PartitionRef,
  jobId: string,
  base: Pick<TriggerJob, "connectionId" | "dataType" | "actionSlug">,
): Promise<TriggerJob> {
  const job = await repos.jobs.get(ref.tenantId, ref.integrationId, jobId);
  // A message from another service may carry no job yet (the worker creates it): that job is still pending.
  const status = job?.status === "syncing" ? "syncing" : "pending";
  return { ...base, actionSlug: job?.actionSlug ?? base.actionSlug, jobId, status, deduplicated: true };
}
