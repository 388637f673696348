/**
 * The sync of one partition for one queue message (DESIGN.md "Sync flow" 2): claim or look up the job, take the lease,
 * page through the gateway action, write only what changed, and either finish (soft deletes, new manifest, partition
 * state, job counts) or save a checkpoint and hand over to a continuation message when the invocation runs short.
 *
 * Crash safety comes from the order of writes, never from transactions:
 * - item rows are written before anything refers to them, and hold upstream-current versions;
 * - the checkpoint is saved before the job points at it, and the job before the partition is requeued;
 * - the counts land on the job, then the new manifest under a new version, then the partition flips its version, then
 *   the job completes. A crash anywhere leaves either the old committed state or the new one, and a redelivery or the
 *   due index resumes the sync. Counts are computed against the committed manifest, so a resumed or repeated sync
 *   reports what a clean run would.
 * - A failed or partial sync never changes an item's status and never writes the manifest.
 */

import { handleGatewayKeyRefused } from "../credentials/tenant-pause.js";
import type { Clock } from "../domain/clock.js";
import { iso } from "../domain/clock.js";
import type { Item, Job, JobError, Partition, PauseReason, SyncMode } from "../domain/entities.js";
import { ConflictError, JOB_ERROR, NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { ReferenceDataConfig, Source } from "../domain/source-config.js";
import type { SyncMessage } from "../domain/sync-message.js";
import { ulid } from "../domain/ulid.js";
import type { EventPublisher } from "../events/events.js";
import type { ExtractedItem } from "../extraction/extract.js";
import { canonicalJson, extractItems, extractObject } from "../extraction/extract.js";
import type { GatewayClient, InvokeResponse } from "../gateway/client.js";
import { isGatewayError } from "../gateway/errors.js";
import { firstPage, nextPage, type PageState } from "../gateway/pagination.js";
import type { Logger } from "../log.js";
import { writeIndexSnapshot } from "../lookup/snapshot.js";
import type { ChangeRecord } from "../storage/change-repository.js";
import type { JobPatch, Manifest, Repositories } from "../storage/ports.js";
import { type AnnounceDeps, announceCommit, announceFailure, expiresAfterDays } from "./announce.js";
import { changeRecordOf, statusChangeRecords } from "./change-records.js";
import {
  decodeCheckpoint,
  decodePageState,
  encodeCheckpoint,
  pageStateRecord,
  type SyncCheckpoint,
} from "./checkpoint.js";
import { claimPartition, describeRefusal } from "./claims.js";
import {
  classifyChange,
  countActive,
  mergeRows,
  needsWrite,
  nextManifest,
  observedStatus,
  rowChange,
  tally,
  vanishedActive,
} from "./diff.js";
import {
  applyStatusChanges,
  dropMarker,
  holdDeletions,
  isSuspiciousDrop,
  newlyDeleted,
  objectHoldMarker,
  objectHoldReason,
  rowEntryFor,
  statusChanges,
} from "./drop-guard.js";
import {
  HEARTBEAT_MS,
  LEASE_MS,
  leaseSafetyMs,
  REQUEUE_WINDOW_MS,
  RETRY_BASE_MS,
  TIME_MARGIN_MS,
  TRANSIENT_RETRY_DELAY_SECONDS,
} from "./durations.js";
import { decideFailure, SyncFailedError, SyncStoppedError } from "./failure-policy.js";
import { holdLease, type Lease, LeaseLostError } from "./lease.js";
import { decideMode, INCREMENTAL_SKEW_MS, incrementalSince } from "./mode.js";
import type { SyncQueue } from "./sync-queue.js";

export interface SyncEngineOptions {
  /** Lease length; renewed every `heartbeatMs`. */
  leaseMs: number;
  heartbeatMs: number;
  /** Stop paging and checkpoint when the invocation has less than this left. */
  timeMarginMs: number;
  /** How long a requeued (continuing) partition may wait for its message before the due index brings it back. */
  requeueWindowMs: number;
  incrementalSkewMs: number;
  /** Changed items buffered before a BatchWriteItem round (full batches of 25 only, the rest waits). */
  writeBufferItems: number;
  /** Soft deletes per setStatus call between time checks. */
  deactivateChunk: number;
  /** A job that needed this many invocations is failed instead of continued (a poison page, an endless source). */
  maxInvocations: number;
  /** Lifecycle: staged changes and commit rows expire after this many days; inactive/deleted items after the other. */
  changeRetentionDays: number;
  inactiveRetentionDays: number;
  random: () => number;
}

export const DEFAULT_SYNC_OPTIONS: SyncEngineOptions = {
  leaseMs: LEASE_MS,
  heartbeatMs: HEARTBEAT_MS,
  timeMarginMs: TIME_MARGIN_MS,
  requeueWindowMs: REQUEUE_WINDOW_MS,
  incrementalSkewMs: INCREMENTAL_SKEW_MS,
  writeBufferItems: 250,
  deactivateChunk: 500,
  maxInvocations: 200,
  changeRetentionDays: 30,
  inactiveRetentionDays: 30,
  random: Math.random,
};

/** Test seams. Production passes none. */
export interface SyncHooks {
  /** After each page is processed (its changed items buffered or written). Throw SimulatedCrash to "kill" the worker. */
  afterPage?(info: { jobId: string; page: number; invocationId: string }): void | Promise<void>;
}

/** Thrown by a test hook: the invocation dies on the spot, as if the process were killed (no cleanup of any kind). */
export class SimulatedCrash extends Error {
  constructor(message = "simulated crash") {
    super(message);
    this.name = "SimulatedCrash";
  }
}

export interface SyncEngineDeps {
  repos: Repositories;
  gateway: GatewayClient;
  /** Continuation messages. */
  queue: SyncQueue;
  clock: Clock;
  log: Logger;
  /** Where job events go after the commit (default: nowhere). */
  events?: EventPublisher;
  options?: Partial<SyncEngineOptions>;
  hooks?: SyncHooks;
}

/** The announce step's dependencies (shared/sync/announce.ts). */
function announceDeps(deps: SyncEngineDeps): AnnounceDeps {
  return {
    repos: deps.repos,
    events: deps.events,
    clock: deps.clock,
    changeRetentionDays: deps.options?.changeRetentionDays ?? DEFAULT_SYNC_OPTIONS.changeRetentionDays,
  };
}

/** The Lambda invocation a sync runs in. */
export interface InvocationContext {
  /** Milliseconds left (context.getRemainingTimeInMillis()). */
  remainingMs(): number;
  /** Unique per invocation: the lease owner. */
  invocationId: string;
}

export interface JobCounts {
  itemsFound: number;
  itemsCreated: number;
  itemsUpdated: number;
  itemsDeleted: number;
  itemsFailed: number;
  itemsDuplicate: number;
}

export type SyncOutcome =
  | { status: "completed"; jobId: string; counts: JobCounts; warnings: string[]; itemWrites: number }
  /** Item rows this invocation wrote before handing over. */
  | { status: "continued"; jobId: string; page: number; delaySeconds: number; itemWrites: number }
  | { status: "failed"; jobId: string; error: JobError; paused?: PauseReason }
  | { status: "skipped"; reason: string; jobId?: string }
  /** A valid message that can never be processed (no such partition): the caller dead-letters it. */
  | { status: "rejected"; reason: string };

/**
 * Runs (or continues) the sync a message asks for. Returns its outcome; throws only for transient failures (DynamoDB
 * throttling, network), after releasing the lease, so the caller reports the message for redelivery.
 */
export async function runSync(
  deps: SyncEngineDeps,
  message: SyncMessage,
  invocation: InvocationContext,
  meta: { sentAt?: number } = {},
): Promise<SyncOutcome> {
  const options = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
  const { repos, clock } = deps;
  const ref: PartitionRef = {
    tenantId: message.tenantId,
    integrationId: message.integrationId,
    connectionId: message.connectionId,
    dataType: message.dataType,
  };
  const log = deps.log.child({
    tenantId: ref.tenantId,
    integrationId: ref.integrationId,
    connectionId: ref.connectionId,
    dataType: ref.dataType,
  });

  let job: Job | undefined;
  let reconcile = message.reconcile === true;
  if (message.jobId === undefined) {
    const claimed = await claimForMessage(deps, options, ref, message, meta, log);
    if ("status" in claimed) return claimed;
    job = claimed.job;
    reconcile ||= claimed.reconcile;
  } else {
    job = await repos.jobs.get(ref.tenantId, ref.integrationId, message.jobId);
    if (!job) {
      // The planner (or the API) claimed the partition but crashed before writing the job: adopt it.
      const partition = await repos.partitions.get(ref);
      if (partition?.currentJobId !== message.jobId) {
        return { status: "skipped", reason: "unknown job: the partition has moved on", jobId: message.jobId };
      }
      job = await createJob(deps, ref, message.jobId, message, clock.now());
    }
  }
  const jobId = job.jobId;
  if (job.connectionId !== ref.connectionId || job.dataType !== ref.dataType) {
    return { status: "rejected", reason: `job ${jobId} belongs to another partition` };
  }
  if (job.status === "completed" || job.status === "failed") {
    return { status: "skipped", reason: `duplicate delivery: job already ${job.status}`, jobId };
  }

  const owner = invocation.invocationId;
  const acquiredAt = clock.now();
  let partition: Partition;
  try {
    partition = await repos.partitions.acquireLease(ref, { jobId, owner, now: acquiredAt, leaseMs: options.leaseMs });
  } catch (error) {
    if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
    // Another worker holds the lease, or the job was superseded: nothing is lost, the due index brings the partition
    // back if that worker dies. A job left behind by a crash is settled so it does not stay "syncing" forever.
    await settleStaleJob(deps, ref, job, log);
    return { status: "skipped", reason: "the partition is leased by another worker or belongs to another job", jobId };
  }

  await settleCommittedJob(deps, ref, partition, jobId, log);

  const lease = holdLease(repos.partitions, ref, acquiredAt, {
    jobId,
    owner,
    leaseMs: options.leaseMs,
    heartbeatMs: options.heartbeatMs,
    safetyMs: leaseSafetyMs(options.leaseMs),
    clock,
    log,
  });
  const run = new SyncRun(deps, options, message, ref, job, partition, lease, invocation, reconcile, log);
  try {
    return await run.execute();
  } finally {
    await lease.stop();
  }
}

interface Claimed {
  job: Job;
  reconcile: boolean;
}

/** A message without a jobId (another service's on-demand sync): claim the partition and create its job. */
async function claimForMessage(
  deps: SyncEngineDeps,
  options: SyncEngineOptions,
  ref: PartitionRef,
  message: SyncMessage,
  meta: { sentAt?: number },
  log: Logger,
): Promise<Claimed | SyncOutcome> {
  const { repos, clock } = deps;
  let partition = await repos.partitions.get(ref);
  if (!partition) {
    const [source, connection] = await Promise.all([
      repos.sources.get(ref.tenantId, ref.integrationId, ref.dataType),
      repos.connections.get(ref.tenantId, ref.integrationId, ref.connectionId),
    ]);
    if (!source?.referenceData.syncable || connection?.status !== "active") {
      return {
        status: "rejected",
        reason: "no such partition: the source is not configured or syncable, or the connection is not enrolled",
      };
    }
    await repos.partitions.ensure(ref, { syncType: source.referenceData.syncType, now: clock.now() });
    partition = await repos.partitions.get(ref);
    if (!partition) return { status: "rejected", reason: "the partition could not be created" };
  }
  const now = clock.now();
  // Twenty copies of one request need one sync: a sync that started after this message was sent already covers it.
  if (meta.sentAt !== undefined) {
    const covering = message.mode === "full" ? partition.lastFullSyncAt : partition.lastSyncStartedAt;
    if (covering !== undefined && Date.parse(covering) >= meta.sentAt) {
      return { status: "skipped", reason: "a sync started after this message was sent" };
    }
  }
  const jobId = ulid(now);
  const claim = await claimPartition({ repos, log }, ref, {
    jobId,
    now,
    requeueDeadline: now + options.requeueWindowMs,
  });
  if (!claim.claimed) return { status: "skipped", reason: describeRefusal(claim.refusal) };
  const { reconcile } = claim;
  const job = await createJob(deps, ref, jobId, message, now);
  return { job, reconcile };
}

async function createJob(
  deps: SyncEngineDeps,
  ref: PartitionRef,
  jobId: string,
  message: SyncMessage,
  now: number,
): Promise<Job> {
  try {
    return await deps.repos.jobs.create({ ref, jobId, trigger: message.trigger, mode: message.mode ?? "full", now });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const existing = await deps.repos.jobs.get(ref.tenantId, ref.integrationId, jobId);
    if (!existing) throw error;
    return existing;
  }
}

/**
 * A message whose job cannot take the lease: if the partition already recorded this job's outcome (a crash between the
 * partition commit and the job update), copy it onto the job; if the partition moved on to another job, the job was
 * superseded. A job the partition still points at belongs to a live worker and is left alone.
 */
async function settleStaleJob(deps: SyncEngineDeps, ref: PartitionRef, job: Job, log: Logger): Promise<void> {
  const partition = await deps.repos.partitions.get(ref);
  if (partition?.currentJobId === job.jobId) return;
  const recorded = partition?.lastJobId === job.jobId;
  try {
    if (recorded && partition.lastJobStatus === "completed") {
      // The partition recorded this job's outcome but a crash came before the job did: announce it now (at least once).
      await announceCommit(announceDeps(deps), ref, job, partition, undefined);
      await deps.repos.jobs.update(
        ref.tenantId,
        ref.integrationId,
        job.jobId,
        { status: "completed", completedAt: iso(deps.clock.now()) },
        { expectStatus: ["pending", "syncing"], removeCheckpoint: true },
      );
      return;
    }
    let error: JobError;
    if (recorded && partition.lastError) {
      error = partition.lastError;
      const pause = partition.status === "paused" ? partition.pauseReason : undefined;
      await announceFailure(announceDeps(deps), { ...job, error }, pause);
    } else if (partition?.status === "paused") {
      error = {
        code: JOB_ERROR.partitionPaused,
        message: `the partition was paused (${partition.pauseReason ?? "manual"})`,
      };
    } else if (partition) {
      error = { code: JOB_ERROR.superseded, message: "the partition moved on to another job before this one ran" };
    } else {
      error = { code: JOB_ERROR.partitionNotFound, message: "the partition no longer exists" };
    }
    await deps.repos.jobs.failIfOpen(ref.tenantId, ref.integrationId, job.jobId, error, deps.clock.now(), {
      removeCheckpoint: true,
    });
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return;
    log.warn("could not settle a stale job", { jobId: job.jobId, error });
  }
}

/**
 * A worker that died between the partition's commit and its job's completion, with its message lost, left that job
 * `syncing` although the partition recorded it as completed: the next sync of the partition settles it. A read first,
 * so the usual case (the job did complete) costs no write.
 */
async function settleCommittedJob(
  deps: SyncEngineDeps,
  ref: PartitionRef,
  partition: Partition,
  jobId: string,
  log: Logger,
): Promise<void> {
  const previous = partition.lastJobId;
  if (!previous || previous === jobId || partition.lastJobStatus !== "completed") return;
  try {
    const job = await deps.repos.jobs.get(ref.tenantId, ref.integrationId, previous);
    if (job?.status !== "pending" && job?.status !== "syncing") return;
    await announceCommit(announceDeps(deps), ref, job, partition, undefined);
    await deps.repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      previous,
      { status: "completed", completedAt: partition.lastSyncedAt ?? iso(deps.clock.now()) },
      { expectStatus: ["pending", "syncing"], removeCheckpoint: true },
    );
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return;
    log.warn("could not settle the previous job", { jobId: previous, error });
  }
}

/** One invocation's work on one leased partition. */
class SyncRun {
  private readonly jobId: string;
  private source: Source | undefined;
  private mode: SyncMode = "full";
  private force: boolean;
  private invocationNumber: number;
  private resumed = false;
  private checkpointChunks = 0;
  private pagesThisInvocation = 0;

  // List sync state.
  private committed: Manifest = new Map();
  /** Repaired manifest: the committed one was missing or unreadable and was rebuilt from the rows. */
  private committedRebuilt = false;
  private rows: Manifest | undefined;
  private seen: Manifest = new Map();
  private buffer: Item[] = [];
  private pageState: PageState | undefined;
  private itemsFailed = 0;
  private itemsDuplicate = 0;
  private pages = 0;
  private phase: SyncCheckpoint["phase"] = "paging";
  private deactivated = 0;
  private itemWrites = 0;
  /** Paging ran in more than one invocation: the page it last resumed at (items unseen are re-checked up to it). */
  private splitAtPage: number | undefined;
  /** Object syncs paged by the gateway: the pages read so far (kept in the checkpoint). */
  private objectParts: unknown[] = [];
  /** Change-feed rows observed and not yet staged (written with the item rows). */
  private changes: ChangeRecord[] = [];
  private deactivatedCount = 0;
  /** The connection's TTL override (PATCH connection `ttlSeconds`). */
  private ttlOverrideSeconds: number | undefined;

  constructor(
    private readonly deps: SyncEngineDeps,
    private readonly options: SyncEngineOptions,
    private readonly message: SyncMessage,
    private readonly ref: PartitionRef,
    private job: Job,
    private readonly partition: Partition,
    private readonly lease: Lease,
    private readonly invocation: InvocationContext,
    private reconcile: boolean,
    private readonly log: Logger,
  ) {
    this.jobId = job.jobId;
    this.force = message.force === true;
    this.invocationNumber = job.invocations + 1;
  }

  private get repos(): Repositories {
    return this.deps.repos;
  }

  private now(): number {
    return this.deps.clock.now();
  }

  async execute(): Promise<SyncOutcome> {
    try {
      await this.start();
      const config = this.config();
      return config.syncType === "object" ? await this.runObject(config) : await this.runList(config);
    } catch (error) {
      return this.handleFailure(error);
    }
  }

  private config(): ReferenceDataConfig {
    if (!this.source) throw new Error("source not loaded");
    return this.source.referenceData;
  }

  /** Loads the checkpoint, the source and the connection, and marks the job syncing. */
  private async start(): Promise<void> {
    const { ref, repos } = this;
    const previousInvocations = this.job.invocations;
    let checkpoint: SyncCheckpoint | undefined;
    let pageState: PageState | undefined;
    if (this.job.checkpoint) {
      try {
        const raw = await repos.jobs.loadCheckpoint(
          ref.tenantId,
          ref.integrationId,
          this.jobId,
          this.job.checkpoint.chunks,
        );
        checkpoint = decodeCheckpoint(raw);
        // The chunks carry their own page position (the job's copy may be older after a crash between the writes).
        pageState = decodePageState(checkpoint?.pageState ?? this.job.checkpoint.state);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
      if (!checkpoint || !pageState) {
        // Starting over is always safe; only rows written since the last commit need a second look.
        this.log.warn("checkpoint unreadable, the sync starts over", { jobId: this.jobId });
        checkpoint = undefined;
        pageState = undefined;
        this.reconcile = true;
      } else {
        this.checkpointChunks = this.job.checkpoint.chunks;
      }
    }
    // An invocation ended without saving a checkpoint (a crash, a transient error), or a job before this one failed:
    // rows may hold versions nothing committed.
    const interrupted = checkpoint ? previousInvocations > checkpoint.invocation : previousInvocations > 0;
    if (interrupted || this.partition.lastJobStatus === "failed" || checkpoint?.reconcile) this.reconcile = true;

    const now = this.now();
    const [source, connection] = await Promise.all([
      repos.sources.get(ref.tenantId, ref.integrationId, ref.dataType),
      repos.connections.get(ref.tenantId, ref.integrationId, ref.connectionId),
    ]);
    this.source = source;
    this.mode =
      checkpoint?.mode ?? (source ? decideMode(source.referenceData, this.partition, this.message.mode, now) : "full");
    this.force ||= checkpoint?.force === true;
    const patch: JobPatch = { status: "syncing", invocations: this.invocationNumber, mode: this.mode };
    if (!this.job.startedAt) patch.startedAt = iso(now);
    if (source) patch.actionSlug = source.actionSlug;
    this.job = await repos.jobs.update(ref.tenantId, ref.integrationId, this.jobId, patch, {
      expectStatus: ["pending", "syncing"],
    });

    if (!source?.referenceData.syncable) {
      throw new SyncStoppedError(
        "source_deleted",
        JOB_ERROR.sourceNotFound,
        `no syncable source for '${ref.dataType}'`,
      );
    }
    if (connection?.status !== "active") {
      throw new SyncStoppedError(
        "revoked",
        JOB_ERROR.connectionRevoked,
        `connection '${ref.connectionId}' is not enrolled`,
      );
    }
    if (connection.paused) {
      throw new SyncStoppedError("manual", JOB_ERROR.connectionPaused, `connection '${ref.connectionId}' is paused`);
    }
    this.ttlOverrideSeconds = connection.ttlSeconds;
    if (previousInvocations >= this.options.maxInvocations) {
      throw new SyncFailedError(
        JOB_ERROR.tooManyInvocations,
        `the sync did not finish in ${previousInvocations} invocations`,
      );
    }
    if (checkpoint && pageState) {
      this.resumed = true;
      this.seen = checkpoint.seen;
      this.itemsFailed = checkpoint.itemsFailed;
      this.itemsDuplicate = checkpoint.itemsDuplicate;
      this.pages = checkpoint.pages;
      this.phase = checkpoint.phase;
      this.deactivated = checkpoint.deactivated;
      this.pageState = pageState;
      this.splitAtPage = checkpoint.splitAtPage;
      this.objectParts = checkpoint.objectParts ?? [];
    }
    this.log.info("sync started", {
      jobId: this.jobId,
      mode: this.mode,
      invocation: this.invocationNumber,
      resumedAtPage: this.resumed ? pageState?.page : undefined,
      reconcile: this.reconcile,
    });
  }

  private startedAt(): number {
    const started = this.job.startedAt ? Date.parse(this.job.startedAt) : Number.NaN;
    return Number.isNaN(started) ? this.now() : started;
  }

  private timeLow(): boolean {
    return this.invocation.remainingMs() < this.options.timeMarginMs;
  }

  /** The gateway may use the invocation's time down to half the margin; the rest is for the checkpoint. */
  private gatewayDeadline(): number {
    return this.now() + this.invocation.remainingMs() - this.options.timeMarginMs / 2;
  }

  /** `pass` tells the confirmation pass's pages apart: an idempotency key must not return the first pass's answer. */
  private async invoke(input: Record<string, unknown>, page: number, pass = ""): Promise<InvokeResponse> {
    const source = this.source as Source;
    this.lease.assertHeld();
    return this.deps.gateway.invoke({
      integrationSlug: source.integrationSlug,
      actionSlug: source.actionSlug,
      tenantId: this.ref.tenantId,
      connectionId: this.ref.connectionId,
      idempotencyKey: `${this.jobId}:${pass}${page}`,
      input,
      deadline: this.gatewayDeadline(),
    });
  }

  // ---------------------------------------------------------------- list syncs

  private async runList(config: ReferenceDataConfig): Promise<SyncOutcome> {
    await this.loadCommitted();
    if (!this.pageState) {
      const base: Record<string, unknown> = { ...(config.request ?? {}) };
      if (this.mode === "incremental" && config.incremental) {
        const since = incrementalSince(this.partition, this.options.incrementalSkewMs);
        if (since !== undefined) base[config.incremental.sinceParam] = since;
      }
      this.pageState = firstPage(config.pagination, base);
    }
    if (this.phase === "paging") {
      while (!this.pageState.done) {
        if (this.pagesThisInvocation > 0 && this.timeLow()) return this.suspend(0);
        const state = this.pageState;
        let response: InvokeResponse;
        try {
          response = await this.invoke(state.input, state.page);
        } catch (error) {
          // Rate limited beyond what the budget can wait: keep what we have and come back after Retry-After.
          if (isGatewayError(error) && error.kind === "rate_limited") {
            const decision = decideFailure(error, this.failureContext());
            if (decision.action === "continue_later") return this.suspend(decision.delaySeconds);
          }
          throw error;
        }
        const extraction = extractItems(config, response.data);
        if (this.reconcile && !this.rows) this.rows = await this.repos.items.loadHashes(this.ref);
        const observedAt = iso(this.now());
        for (const item of extraction.items) this.observe(item, observedAt);
        this.itemsFailed += extraction.failed;
        this.itemsDuplicate += extraction.duplicates;
        this.pages++;
        this.pagesThisInvocation++;
        if (extraction.failed > 0) {
          this.log.warn("items skipped", {
            jobId: this.jobId,
            page: state.page,
            failures: extraction.failures.slice(0, 5),
          });
        }
        const next = nextPage(config.pagination, state, response, extraction.matched);
        await this.flush(false);
        this.pageState = next;
        await this.deps.hooks?.afterPage?.({
          jobId: this.jobId,
          page: state.page,
          invocationId: this.invocation.invocationId,
        });
      }
      this.phase = this.startConfirmation(config) ? "confirming" : "finishing";
    }
    if (this.phase === "confirming") {
      const suspended = await this.confirmUnseen(config);
      if (suspended) return suspended;
      this.phase = "finishing";
    }
    return this.finishList(config);
  }

  /**
   * A full sync whose paging was split across invocations may have missed items that moved to a page it had already
   * read (offset paging, a record removed meanwhile). If committed active items went unseen, their absence is
   * confirmed by reading the pages once more before anything is deactivated.
   */
  private startConfirmation(config: ReferenceDataConfig): boolean {
    if (this.mode !== "full" || this.splitAtPage === undefined) return false;
    if (vanishedActive(this.committed, this.seen).length === 0) return false;
    this.pageState = firstPage(config.pagination, { ...(config.request ?? {}) });
    this.log.info("confirming unseen items: the listing spanned invocations", { jobId: this.jobId });
    return true;
  }

  /**
   * The confirmation pass: the pages before the last continuation's page are read again (an item can only have moved
   * into pages already read), and any item this sync had not seen is observed, so an item that moved is kept (and
   * updated if it changed). It stops as soon as nothing unseen is left, and checkpoints like paging.
   */
  private async confirmUnseen(config: ReferenceDataConfig): Promise<SyncOutcome | undefined> {
    let unseen = vanishedActive(this.committed, this.seen).length;
    const until = this.splitAtPage ?? 0;
    while (this.pageState && !this.pageState.done && this.pageState.page < until && unseen > 0) {
      if (this.pagesThisInvocation > 0 && this.timeLow()) return this.suspend(0);
      const state = this.pageState;
      let response: InvokeResponse;
      try {
        response = await this.invoke(state.input, state.page, "confirm-");
      } catch (error) {
        const suspended = await this.suspendIfRateLimited(error);
        if (suspended) return suspended;
        throw error;
      }
      const extraction = extractItems(config, response.data);
      const observedAt = iso(this.now());
      for (const item of extraction.items) {
        if (this.seen.has(item.externalId)) continue;
        this.observe(item, observedAt);
        if (this.committed.get(item.externalId)?.status === "active") unseen--;
      }
      this.pages++;
      this.pagesThisInvocation++;
      this.pageState = nextPage(config.pagination, state, response, extraction.matched);
      await this.flush(false);
      await this.deps.hooks?.afterPage?.({
        jobId: this.jobId,
        page: state.page,
        invocationId: this.invocation.invocationId,
      });
    }
    return undefined;
  }

  /** Rate limited beyond what the budget can wait: keep what we have and come back after Retry-After. */
  private async suspendIfRateLimited(error: unknown): Promise<SyncOutcome | undefined> {
    if (!(isGatewayError(error) && error.kind === "rate_limited")) return undefined;
    const decision = decideFailure(error, this.failureContext());
    return decision.action === "continue_later" ? this.suspend(decision.delaySeconds) : undefined;
  }

  /** The committed manifest; rebuilt from the rows when it is missing or unreadable. */
  private async loadCommitted(): Promise<void> {
    const { version, manifestChunks } = this.partition;
    if (version === 0) return;
    if (manifestChunks > 0) {
      try {
        this.committed = await this.repos.manifests.read(this.ref, version, manifestChunks);
        return;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    this.log.warn("manifest missing, diffing against the stored items", { jobId: this.jobId, version });
    this.committed = await this.repos.items.loadHashes(this.ref);
    this.rows = this.committed;
    this.committedRebuilt = true;
  }

  private observe(item: ExtractedItem, now: string): void {
    const next = { hash: item.contentHash, status: observedStatus(item.deleted) };
    const earlier = this.seen.get(item.externalId);
    if (earlier) this.itemsDuplicate++;
    const committed = this.committed.get(item.externalId);
    const row = this.rows ? this.rows.get(item.externalId) : committed;
    // A full sync writes "active → deleted" as still active: the drop guard decides at the finish.
    const written = rowEntryFor(this.mode, committed, next);
    // The change feed: one row per item that differs from the committed state (a deferred deletion is staged by the
    // finish, which overwrites this row for the item).
    const change = classifyChange(committed, written);
    if (
      change !== "unchanged" &&
      (earlier === undefined || earlier.hash !== next.hash || earlier.status !== next.status)
    ) {
      this.changes.push(changeRecordOf(item, change, written.status, this.jobId, now));
    }
    if (needsWrite(row, earlier && rowEntryFor(this.mode, committed, earlier), written)) {
      this.buffer.push({
        externalId: item.externalId,
        name: item.name,
        lookup: item.lookup,
        metadata: item.metadata,
        status: written.status,
        contentHash: item.contentHash,
        jobId: this.jobId,
        change: rowChange(change),
        createdAt: now,
        updatedAt: now,
        ...(written.status === "deleted" ? { expiresAt: this.itemExpiresAt() } : {}),
      });
    }
    this.seen.set(item.externalId, next);
  }

  /** Writes buffered items: only whole batches of 25 unless `all`, so batches stay full. */
  private async flush(all: boolean): Promise<void> {
    const count = all
      ? this.buffer.length
      : this.buffer.length >= this.options.writeBufferItems
        ? this.buffer.length - (this.buffer.length % 25)
        : 0;
    if (count === 0 && !(all && this.changes.length > 0)) return;
    this.lease.assertHeld();
    const batch = this.buffer.splice(0, count);
    if (batch.length > 0) await this.repos.items.batchPut(this.ref, batch);
    this.itemWrites += batch.length;
    await this.stageChanges(this.changes.splice(0));
  }

  /** Writes change-feed rows; they stay invisible until this job's commit row exists. */
  private async stageChanges(records: ChangeRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A day beyond the commit row's retention, so a commit still listed never has its changes expired under it.
    const expiresAt = expiresAfterDays(this.now(), this.options.changeRetentionDays + 1);
    await this.repos.changes.stage(this.ref, records, expiresAt);
  }

  private itemExpiresAt(): number {
    return expiresAfterDays(this.now(), this.options.inactiveRetentionDays);
  }

  /** The connection's TTL override, else the source's. */
  private ttlSeconds(): number {
    return this.ttlOverrideSeconds ?? this.source?.referenceData.defaultTtlSeconds ?? 86_400;
  }

  /** Saves what this sync has seen, requeues the partition and sends the continuation message. */
  private async suspend(delaySeconds: number): Promise<SyncOutcome> {
    const { ref, repos } = this;
    const pageState = this.pageState as PageState;
    await this.flush(true);
    this.lease.assertHeld();
    if (this.phase === "paging") this.splitAtPage = pageState.page;
    const checkpoint: SyncCheckpoint = {
      mode: this.mode,
      force: this.force,
      invocation: this.invocationNumber,
      reconcile: this.reconcile,
      seen: this.seen,
      itemsFailed: this.itemsFailed,
      itemsDuplicate: this.itemsDuplicate,
      pages: this.pages,
      phase: this.phase,
      deactivated: this.deactivated,
      pageState: pageStateRecord(pageState),
    };
    if (this.splitAtPage !== undefined) checkpoint.splitAtPage = this.splitAtPage;
    if (this.objectParts.length > 0) checkpoint.objectParts = this.objectParts;
    const { chunks } = await repos.jobs.saveCheckpoint(
      ref.tenantId,
      ref.integrationId,
      this.jobId,
      encodeCheckpoint(checkpoint),
    );
    const now = this.now();
    await repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      this.jobId,
      {
        checkpoint: { page: pageState.page, state: pageStateRecord(pageState), chunks, savedAt: iso(now) },
        pages: this.pages,
        itemsFound: this.seen.size,
        itemsFailed: this.itemsFailed,
        itemsDuplicate: this.itemsDuplicate,
      },
      { expectStatus: ["syncing"] },
    );
    return this.handOver(delaySeconds, { page: pageState.page });
  }

  /** Releases the lease to a continuation message (sent with `delaySeconds`). */
  private async handOver(delaySeconds: number, continuation?: { page: number }): Promise<SyncOutcome> {
    const now = this.now();
    await this.lease.stop();
    await this.repos.partitions.requeue(this.ref, {
      jobId: this.jobId,
      owner: this.invocation.invocationId,
      now,
      deadline: now + delaySeconds * 1000 + this.options.requeueWindowMs,
    });
    const { reconcile: _reconcile, continuation: _continuation, ...rest } = this.message;
    const next: SyncMessage = { ...rest, jobId: this.jobId };
    if (continuation) next.continuation = continuation;
    const sent = await this.deps.queue.send([next], { delaySeconds });
    if (sent.failed.length > 0) {
      // Nothing is lost: the requeued partition comes back through the due index and the planner resumes the job.
      this.log.warn("continuation message not sent; the planner resumes the job at its requeue deadline", {
        jobId: this.jobId,
      });
    }
    this.log.info("sync continues in a new invocation", {
      jobId: this.jobId,
      page: continuation?.page,
      delaySeconds,
      seen: this.seen.size,
    });
    return {
      status: "continued",
      jobId: this.jobId,
      page: continuation?.page ?? 0,
      delaySeconds,
      itemWrites: this.itemWrites,
    };
  }

  private async finishList(config: ReferenceDataConfig): Promise<SyncOutcome> {
    const { ref, repos } = this;
    await this.flush(true);
    if (this.reconcile && !this.rows) this.rows = await repos.items.loadHashes(ref);
    const counts = tally(this.committed, this.seen);
    const warnings = [...this.job.warnings];
    let deactivate: string[] = [];
    let deleting: string[] = [];
    let held: string[] = [];
    let orphans: string[] = [];
    if (this.mode === "full") {
      const vanished = vanishedActive(this.committed, this.seen);
      const newly = newlyDeleted(this.committed, this.seen);
      const activeBefore = countActive(this.committed);
      const leaving = vanished.length + newly.length;
      let apply = true;
      if (isSuspiciousDrop(activeBefore, leaving)) {
        const marker = dropMarker(vanished, newly);
        apply = this.force || (await this.previousJobWarned(marker));
        // A finish that runs again after a crash must not repeat the warning.
        if (!apply && !warnings.some((warning) => warning.includes(marker))) {
          warnings.push(
            `Suspicious drop: ${leaving} of ${activeBefore} active items would leave active (${vanished.length} not ` +
              `returned, ${newly.length} marked deleted); status changes skipped until a later sync confirms the ` +
              `drop or a sync is forced ${marker}`,
          );
          this.log.warn("suspicious drop: soft deletes skipped", {
            jobId: this.jobId,
            vanished: vanished.length,
            deleted: newly.length,
            activeBefore,
          });
        }
      }
      if (apply) {
        deactivate = vanished;
        deleting = newly;
        // Rows an interrupted sync wrote and nothing committed: cleaned up, not counted.
        if (this.rows) orphans = vanishedActive(this.rows, this.seen, this.committed);
      } else {
        held = newly;
        counts.deleted -= newly.length;
        counts.unchanged += newly.length;
      }
    }
    const now = this.now();
    const changes = statusChanges(deactivate, deleting);
    for (let i = this.deactivated; i < changes.length; i += this.options.deactivateChunk) {
      if (i > this.deactivated && this.timeLow()) {
        this.deactivated = i;
        return this.suspend(0);
      }
      this.lease.assertHeld();
      const rows = await applyStatusChanges(repos.items, ref, changes.slice(i, i + this.options.deactivateChunk), {
        jobId: this.jobId,
        now,
        expiresAt: this.itemExpiresAt(),
      });
      await this.stageChanges(statusChangeRecords(rows, this.jobId, iso(now)));
    }
    this.deactivated = changes.length;
    if (orphans.length > 0) {
      this.lease.assertHeld();
      await repos.items.setStatus(ref, orphans, "inactive", {
        jobId: this.jobId,
        now,
        expiresAt: this.itemExpiresAt(),
      });
      this.log.warn("uncommitted rows of an interrupted sync deactivated", {
        jobId: this.jobId,
        count: orphans.length,
      });
    }
    counts.deleted += deactivate.length;
    this.deactivatedCount = deactivate.length;

    const base = this.rows ? mergeRows(this.committed, this.rows) : this.committed;
    const manifest = nextManifest(base, this.seen, [...deactivate, ...orphans]);
    holdDeletions(manifest, held);
    const jobCounts: JobCounts = {
      itemsFound: counts.found,
      itemsCreated: counts.created,
      itemsUpdated: counts.updated,
      itemsDeleted: counts.deleted,
      itemsFailed: this.itemsFailed,
      itemsDuplicate: this.itemsDuplicate,
    };
    // An unchanged resync keeps the committed manifest: no manifest write, no version flip of stored data.
    const changed = this.committedRebuilt || this.partition.version === 0 || !sameManifest(this.committed, manifest);
    return this.commit(
      config,
      jobCounts,
      warnings,
      async () => {
        if (!changed) {
          return { version: this.partition.version, manifestChunks: this.partition.manifestChunks, objectChunks: 0 };
        }
        const { chunks } = await repos.manifests.write(ref, this.partition.version + 1, manifest);
        return { version: this.partition.version + 1, manifestChunks: chunks, objectChunks: 0 };
      },
      countActive(manifest),
      manifest.size,
    );
  }

  /** Whether the partition's previous job warned about this very drop (then this sync confirms it). */
  private async previousJobWarned(marker: string): Promise<boolean> {
    const previousId = this.partition.lastJobId;
    if (!previousId || previousId === this.jobId) return false;
    const previous = await this.repos.jobs.get(this.ref.tenantId, this.ref.integrationId, previousId);
    return previous?.status === "completed" && previous.warnings.some((warning) => warning.includes(marker));
  }

  /**
   * Commits: counts on the job first (so a crash after the partition flip still leaves them), then the new data
   * version (`write`), then the partition, then the job's completion; old versions and the checkpoint are removed last.
   */
  private async commit(
    config: ReferenceDataConfig,
    counts: JobCounts,
    warnings: string[],
    write: () => Promise<{ version: number; manifestChunks: number; objectChunks: number }>,
    itemCount: number,
    totalCount = itemCount,
  ): Promise<SyncOutcome> {
    const { ref, repos } = this;
    this.lease.assertHeld();
    await repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      this.jobId,
      { ...counts, itemsDeactivated: this.deactivatedCount, pages: this.pages, warnings },
      { expectStatus: ["syncing"] },
    );
    const written = await write();
    await writeIndexSnapshot({ repos, log: this.log }, ref, written.version, config);
    this.lease.assertHeld();
    await this.lease.stop();
    const now = this.now();
    const ttlMs = (this.ttlOverrideSeconds ?? config.defaultTtlSeconds) * 1000;
    const committed = await repos.partitions.recordSuccess(ref, {
      jobId: this.jobId,
      owner: this.invocation.invocationId,
      now,
      nextSyncAt: now + ttlMs + Math.floor(this.options.random() * ttlMs * 0.1),
      version: written.version,
      manifestChunks: written.manifestChunks,
      objectChunks: written.objectChunks,
      itemCount,
      totalCount,
      startedAt: this.startedAt(),
      full: this.mode === "full",
      ...(written.version !== this.partition.version ? { dataJobId: this.jobId } : {}),
    });
    const finished: Job = { ...this.job, ...counts, itemsDeactivated: this.deactivatedCount, warnings };
    await announceCommit(announceDeps(this.deps), ref, finished, committed, written.version !== this.partition.version);
    await repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      this.jobId,
      { status: "completed", completedAt: iso(now) },
      { expectStatus: ["syncing"], removeCheckpoint: true },
    );
    await this.cleanUp(written.version);
    this.log.info("sync completed", {
      jobId: this.jobId,
      mode: this.mode,
      ...counts,
      itemWrites: this.itemWrites,
      warnings: warnings.length,
    });
    return { status: "completed", jobId: this.jobId, counts, warnings, itemWrites: this.itemWrites };
  }

  /** Best effort: leftovers cost storage, never correctness (readers follow the partition's version pointer). */
  private async cleanUp(newVersion: number): Promise<void> {
    const { ref, repos, partition } = this;
    const tasks: Promise<void>[] = [];
    if (newVersion !== partition.version && partition.version > 0) {
      if (partition.manifestChunks > 0)
        tasks.push(repos.manifests.delete(ref, partition.version, partition.manifestChunks));
      if (partition.objectChunks > 0) tasks.push(repos.objects.delete(ref, partition.version, partition.objectChunks));
    }
    if (this.checkpointChunks > 0) {
      tasks.push(repos.jobs.deleteCheckpoint(ref.tenantId, ref.integrationId, this.jobId, this.checkpointChunks));
    }
    const results = await Promise.allSettled(tasks);
    for (const result of results) {
      if (result.status === "rejected")
        this.log.warn("clean-up after a sync failed", { jobId: this.jobId, error: result.reason });
    }
  }

  // ---------------------------------------------------------------- object syncs

  private async runObject(config: ReferenceDataConfig): Promise<SyncOutcome> {
    const { ref, repos, partition } = this;
    const base = { ...(config.request ?? {}) };
    let data: unknown;
    if (config.pagination.strategy === "gateway") {
      // Pages the gateway itself cuts are merged back into one object; they checkpoint and continue like a list's.
      const suspended = await this.pageObject(config, base);
      if (suspended) return suspended;
      data = mergeObjectPages(this.objectParts);
    } else {
      const response = await this.invoke(base, 0);
      this.pages++;
      data = response.data;
    }
    const object = extractObject(data);
    const canonical = canonicalJson(object);
    let unchanged = false;
    let committedBytes: number | undefined;
    if (partition.version > 0 && partition.objectChunks > 0) {
      try {
        const stored = await repos.objects.read(
          ref,
          partition.version,
          partition.objectChunks,
          partition.lastSyncedAt ?? iso(this.now()),
        );
        unchanged = stored !== undefined && canonicalJson(stored.object) === canonical;
        committedBytes = stored?.bytes;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    const warnings = [...this.job.warnings];
    if (!unchanged && (await this.holdObject(committedBytes, object, canonical, warnings))) unchanged = true;
    const counts: JobCounts = {
      itemsFound: 1,
      itemsCreated: partition.version === 0 ? 1 : 0,
      itemsUpdated: partition.version > 0 && !unchanged ? 1 : 0,
      itemsDeleted: 0,
      itemsFailed: 0,
      itemsDuplicate: 0,
    };
    return this.commit(
      config,
      counts,
      warnings,
      async () => {
        if (unchanged) return { version: partition.version, manifestChunks: 0, objectChunks: partition.objectChunks };
        this.lease.assertHeld();
        const { chunks } = await repos.objects.write(ref, partition.version + 1, object);
        return { version: partition.version + 1, manifestChunks: 0, objectChunks: chunks };
      },
      1,
    );
  }

  /** Reads the gateway's pages of an object into `objectParts`, suspending (with a checkpoint) when time runs low. */
  private async pageObject(
    config: ReferenceDataConfig,
    base: Record<string, unknown>,
  ): Promise<SyncOutcome | undefined> {
    this.pageState ??= firstPage(config.pagination, base);
    while (!this.pageState.done) {
      if (this.pagesThisInvocation > 0 && this.timeLow()) return this.suspend(0);
      const state = this.pageState;
      let response: InvokeResponse;
      try {
        response = await this.invoke(state.input, state.page);
      } catch (error) {
        const suspended = await this.suspendIfRateLimited(error);
        if (suspended) return suspended;
        throw error;
      }
      this.objectParts.push(response.data);
      this.pages++;
      this.pagesThisInvocation++;
      this.pageState = nextPage(config.pagination, state, response, 1);
      await this.deps.hooks?.afterPage?.({
        jobId: this.jobId,
        page: state.page,
        invocationId: this.invocation.invocationId,
      });
    }
    return undefined;
  }

  /**
   * Whether a new object must not replace the committed one yet (empty, or less than half its size): then a warning
   * goes on the job, and a second sync returning the same object, or a forced one, replaces it.
   */
  private async holdObject(
    committedBytes: number | undefined,
    object: unknown,
    canonical: string,
    warnings: string[],
  ): Promise<boolean> {
    const reason = objectHoldReason(committedBytes, object, Buffer.byteLength(canonical));
    if (reason === undefined || this.force) return false;
    const marker = objectHoldMarker(canonical);
    if (await this.previousJobWarned(marker)) return false;
    if (!warnings.some((warning) => warning.includes(marker))) {
      warnings.push(
        `Object held: ${reason}; the committed object is kept until a later sync returns the same or a sync is ` +
          `forced ${marker}`,
      );
      this.log.warn("object held", { jobId: this.jobId, reason });
    }
    return true;
  }

  // ---------------------------------------------------------------- failures

  private failureContext() {
    return {
      ttlSeconds: this.ttlSeconds(),
      consecutiveFailures: this.partition.consecutiveFailures,
      random: this.options.random,
    };
  }

  private async handleFailure(error: unknown): Promise<SyncOutcome> {
    if (error instanceof SimulatedCrash) throw error;
    if (error instanceof LeaseLostError || error instanceof ConflictError) {
      // Someone else owns the partition or the job now: write nothing more.
      this.log.warn("sync abandoned: lease or job taken over", { jobId: this.jobId, error });
      return { status: "skipped", reason: "lease lost", jobId: this.jobId };
    }
    let decision = decideFailure(error, this.failureContext());
    if (decision.action === "transient") {
      this.log.error("transient failure; the message will be redelivered", { jobId: this.jobId, error });
      const released = await this.releaseForRedelivery();
      if (released && this.message.jobId === undefined) {
        // A redelivered jobless message would find the partition claimed by this very job and skip it: hand the job
        // over to a copy that names it. If that send fails, SQS redelivers the original and the due index backs it up.
        const { reconcile: _reconcile, ...rest } = this.message;
        const sent = await this.deps.queue
          .send([{ ...rest, jobId: this.jobId }], { delaySeconds: TRANSIENT_RETRY_DELAY_SECONDS })
          .catch(() => ({ failed: [rest] }));
        if (sent.failed.length === 0) {
          return {
            status: "continued",
            jobId: this.jobId,
            page: 0,
            delaySeconds: TRANSIENT_RETRY_DELAY_SECONDS,
            itemWrites: this.itemWrites,
          };
        }
      }
      throw error;
    }
    if (decision.action === "continue_later") {
      // Rate limited outside paging (object syncs): start over after the delay.
      return this.handOver(decision.delaySeconds);
    }
    if (decision.action === "pause" && decision.reason === "config" && this.resumed && this.pagesThisInvocation === 0) {
      // A cursor saved in a checkpoint can expire upstream; that is no reason to stop the source. Retry from scratch.
      decision = { action: "reschedule", error: { ...decision.error, retryable: true }, retryInMs: RETRY_BASE_MS };
    }
    const jobError = decision.error;
    const now = this.now();
    await this.lease.stop();
    const failure = {
      jobId: this.jobId,
      owner: this.invocation.invocationId,
      now,
      error: jobError,
      nextSyncAt: now + (decision.action === "reschedule" ? decision.retryInMs : 0),
    };
    const paused = decision.action === "pause" ? decision.reason : undefined;
    try {
      await this.repos.partitions.recordFailure(this.ref, {
        ...failure,
        ...(paused ? { pause: paused } : {}),
        ...(paused === "config" && this.source ? { sourceRevision: this.source.revision } : {}),
      });
      const failedJob: Job = { ...this.job, itemsFailed: this.itemsFailed, error: jobError };
      await announceFailure(announceDeps(this.deps), failedJob, paused);
      await this.repos.jobs.update(
        this.ref.tenantId,
        this.ref.integrationId,
        this.jobId,
        {
          status: "failed",
          completedAt: iso(now),
          error: jobError,
          pages: this.pages,
          itemsFailed: this.itemsFailed,
          itemsDuplicate: this.itemsDuplicate,
        },
        { expectStatus: ["syncing"], removeCheckpoint: true },
      );
    } catch (caught) {
      if (caught instanceof ConflictError) return { status: "skipped", reason: "lease lost", jobId: this.jobId };
      throw caught;
    }
    if (this.checkpointChunks > 0) {
      await this.repos.jobs
        .deleteCheckpoint(this.ref.tenantId, this.ref.integrationId, this.jobId, this.checkpointChunks)
        .catch((cause: unknown) => this.log.warn("checkpoint clean-up failed", { jobId: this.jobId, error: cause }));
    }
    this.log.warn("sync failed", { jobId: this.jobId, error: jobError, paused });
    if (paused === "gateway_key") await this.pauseTenant(error);
    return paused
      ? { status: "failed", jobId: this.jobId, error: jobError, paused }
      : { status: "failed", jobId: this.jobId, error: jobError };
  }

  /** The tenant's Waygate key is missing or refused: the rest of the tenant pauses too (best effort, logged). */
  private async pauseTenant(error: unknown): Promise<void> {
    const keyVersion = isGatewayError(error) ? error.keyVersion : undefined;
    await handleGatewayKeyRefused(this.deps, this.ref.tenantId, keyVersion).catch((cause: unknown) =>
      this.log.error("could not pause the tenant after its gateway key was refused", { error: cause }),
    );
  }

  /** Hands the lease back (same job, queued) so the redelivered message can take it at once. Best effort. */
  private async releaseForRedelivery(): Promise<boolean> {
    try {
      await this.lease.stop();
      const now = this.now();
      await this.repos.partitions.requeue(this.ref, {
        jobId: this.jobId,
        owner: this.invocation.invocationId,
        now,
        deadline: now + this.options.requeueWindowMs,
      });
      return true;
    } catch (error) {
      // The lease then simply expires and the due index brings the partition back.
      this.log.warn("could not release the lease after a transient failure", { jobId: this.jobId, error });
      return false;
    }
  }
}

function sameManifest(a: Manifest, b: Manifest): boolean {
  if (a.size !== b.size) return false;
  for (const [id, entry] of a) {
    const other = b.get(id);
    if (!other || other.hash !== entry.hash || other.status !== entry.status) return false;
  }
  return true;
}

/** Gateway-cut pages of one object: arrays are concatenated, objects merged key by key (arrays inside concatenated). */
export function mergeObjectPages(parts: unknown[]): unknown {
  if (parts.length === 1) return parts[0];
  if (parts.every(Array.isArray)) return (parts as unknown[][]).flat();
  if (parts.every((part) => typeof part === "object" && part !== null && !Array.isArray(part))) {
    const merged: Record<string, unknown> = {};
    for (const part of parts as Record<string, unknown>[]) {
      for (const [key, value] of Object.entries(part)) {
        const existing = merged[key];
        merged[key] = Array.isArray(existing) && Array.isArray(value) ? [...existing, ...value] : value;
      }
    }
    return merged;
  }
  return parts;
}
