/**
 * A sync session: one invocation's work on one leased partition for one job, whatever the partition holds. It starts
 * the job (checkpoint, source, connection), calls the gateway under the lease, and ends in exactly one of three ways:
 * - `suspend`: save the progress as a checkpoint and `handOver` the lease to a continuation message;
 * - `commit`: counts on the job, the new data version, the partition's flip, the job completed, events announced;
 * - failed (`failSession`, ./session-failure.ts): the failure policy decides (reschedule, pause, continue later, or a
 *   transient error that SQS redelivers after the lease is handed back).
 * What is synced and how is the list sync's or the object sync's business (./list-sync.ts, ./object-sync.ts); both
 * keep their checkpointed state in `progress`. Crash-safety order: see ./run-sync.ts.
 */
import { iso } from "../domain/clock.js";
import type { Job, Partition, SyncMode } from "../domain/entities.js";
import { JOB_ERROR, NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { ReferenceDataConfig, Source } from "../domain/source-config.js";
import type { SyncMessage } from "../domain/sync-message.js";
import type { InvokeResponse } from "../gateway/client.js";
import { isGatewayError } from "../gateway/errors.js";
import type { PageState } from "../gateway/pagination.js";
import type { Logger } from "../log.js";
import { writeIndexSnapshot } from "../lookup/snapshot-writer.js";
import type { JobPatch, Manifest, Repositories } from "../storage/ports.js";
import { announceCommit } from "./announce.js";
import {
  decodeCheckpoint,
  decodePageState,
  encodeCheckpoint,
  pageStateRecord,
  type SyncCheckpoint,
} from "./checkpoint.js";
import {
  announceDeps,
  type InvocationContext,
  type JobCounts,
  type SyncEngineDeps,
  type SyncEngineOptions,
  type SyncOutcome,
} from "./engine.js";
import { decideFailure, SyncFailedError, SyncStoppedError } from "./failure-policy.js";
import type { Lease } from "./lease.js";
import { decideMode } from "./mode.js";
import { failSession } from "./session-failure.js";

/** What a sync has done so far that a continuation needs: saved in the checkpoint, restored by `start`. */
export interface SyncProgress {
  /** Every item observed so far (list syncs). */
  seen: Manifest;
  itemsFailed: number;
  itemsDuplicate: number;
  pages: number;
  phase: SyncCheckpoint["phase"];
  /** Status changes of the finish already applied. */
  deactivated: number;
  /** The next page to read (undefined before the first). */
  pageState: PageState | undefined;
  /** Paging ran in more than one invocation: the page it last resumed at (items unseen are re-checked up to it). */
  splitAtPage: number | undefined;
  /** Object syncs paged by the gateway: the pages read so far. */
  objectParts: unknown[];
}

/** What a finished sync commits. */
export interface CommitInput {
  counts: JobCounts;
  warnings: string[];
  itemsDeactivated: number;
  /** Writes the new data version (or keeps the committed one) and says where it is. */
  write: () => Promise<{ version: number; manifestChunks: number; objectChunks: number }>;
  itemCount: number;
  totalCount?: number;
  /** List syncs: the items whose stored state differs from the committed version's (undefined: not known). */
  changedItems?: readonly string[];
}

/** A list sync or an object sync, run by a session. */
export interface SyncKind {
  sync(config: ReferenceDataConfig): Promise<SyncOutcome>;
  /** Writes whatever it buffered: called before a checkpoint is saved. */
  flush(): Promise<void>;
}

export class SyncSession {
  readonly jobId: string;
  private kind: SyncKind | undefined;
  source: Source | undefined;
  mode: SyncMode = "full";
  force: boolean;
  readonly invocationNumber: number;
  /** Started from a checkpoint. */
  resumed = false;
  checkpointChunks = 0;
  pagesThisInvocation = 0;
  /** Item rows this invocation wrote. */
  itemWrites = 0;
  /** The connection's TTL override (PATCH connection `ttlSeconds`). */
  ttlOverrideSeconds: number | undefined;
  readonly progress: SyncProgress = {
    seen: new Map(),
    itemsFailed: 0,
    itemsDuplicate: 0,
    pages: 0,
    phase: "paging",
    deactivated: 0,
    pageState: undefined,
    splitAtPage: undefined,
    objectParts: [],
  };

  constructor(
    readonly deps: SyncEngineDeps,
    readonly options: SyncEngineOptions,
    readonly message: SyncMessage,
    readonly ref: PartitionRef,
    public job: Job,
    readonly partition: Partition,
    readonly lease: Lease,
    readonly invocation: InvocationContext,
    /** Rows may hold versions nothing committed: read them back before diffing (list syncs). */
    public reconcile: boolean,
    readonly log: Logger,
  ) {
    this.jobId = job.jobId;
    this.force = message.force === true;
    this.invocationNumber = job.invocations + 1;
  }

  get repos(): Repositories {
    return this.deps.repos;
  }

  now(): number {
    return this.deps.clock.now();
  }

  /**
   * Starts the job, runs the list or object sync `kindOf` picks for the source's config, and turns any failure into the
   * job's outcome.
   */
  async run(kindOf: (config: ReferenceDataConfig) => SyncKind): Promise<SyncOutcome> {
    try {
      await this.start();
      const config = this.config();
      this.kind = kindOf(config);
      return await this.kind.sync(config);
    } catch (error) {
      return failSession(this, error);
    }
  }

  config(): ReferenceDataConfig {
    if (!this.source) throw new Error("source not loaded");
    return this.source.referenceData;
  }

  /** Loads the checkpoint, the source and the connection, and marks the job syncing. */
  async start(): Promise<void> {
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
      this.progress.seen = checkpoint.seen;
      this.progress.itemsFailed = checkpoint.itemsFailed;
      this.progress.itemsDuplicate = checkpoint.itemsDuplicate;
      this.progress.pages = checkpoint.pages;
      this.progress.phase = checkpoint.phase;
      this.progress.deactivated = checkpoint.deactivated;
      this.progress.pageState = pageState;
      this.progress.splitAtPage = checkpoint.splitAtPage;
      this.progress.objectParts = checkpoint.objectParts ?? [];
    }
    this.log.info("sync started", {
      jobId: this.jobId,
      mode: this.mode,
      invocation: this.invocationNumber,
      resumedAtPage: this.resumed ? pageState?.page : undefined,
      reconcile: this.reconcile,
    });
  }

  startedAt(): number {
    const started = this.job.startedAt ? Date.parse(this.job.startedAt) : Number.NaN;
    return Number.isNaN(started) ? this.now() : started;
  }

  timeLow(): boolean {
    return this.invocation.remainingMs() < this.options.timeMarginMs;
  }

  /** The gateway may use the invocation's time down to half the margin; the rest is for the checkpoint. */
  gatewayDeadline(): number {
    return this.now() + this.invocation.remainingMs() - this.options.timeMarginMs / 2;
  }

  /** `pass` tells the confirmation pass's pages apart: an idempotency key must not return the first pass's answer. */
  async invoke(input: Record<string, unknown>, page: number, pass = ""): Promise<InvokeResponse> {
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

  /**
   * Reads the next page of `progress.pageState`, or suspends instead (returning the continuation's outcome) when time
   * runs low after this invocation's first page, or when a rate limit's Retry-After does not fit the budget.
   * `pass` tells the confirmation pass's pages apart (see `invoke`).
   */
  async readPage(pass = ""): Promise<{ state: PageState; response: InvokeResponse } | { suspended: SyncOutcome }> {
    if (this.pagesThisInvocation > 0 && this.timeLow()) return { suspended: await this.suspend(0) };
    const state = this.progress.pageState as PageState;
    try {
      return { state, response: await this.invoke(state.input, state.page, pass) };
    } catch (error) {
      const suspended = await this.suspendIfRateLimited(error);
      if (suspended) return { suspended };
      throw error;
    }
  }

  /** Calls the test hook after a page was processed. */
  async afterPage(page: number): Promise<void> {
    await this.deps.hooks?.afterPage?.({ jobId: this.jobId, page, invocationId: this.invocation.invocationId });
  }

  /** Rate limited beyond what the budget can wait: keep what we have and come back after Retry-After. */
  async suspendIfRateLimited(error: unknown): Promise<SyncOutcome | undefined> {
    if (!(isGatewayError(error) && error.kind === "rate_limited")) return undefined;
    const decision = decideFailure(error, this.failureContext());
    return decision.action === "continue_later" ? this.suspend(decision.delaySeconds) : undefined;
  }

  /** The connection's TTL override, else the source's. */
  ttlSeconds(): number {
    return this.ttlOverrideSeconds ?? this.source?.referenceData.defaultTtlSeconds ?? 86_400;
  }

  /** Saves what this sync has seen, requeues the partition and sends the continuation message. */
  async suspend(delaySeconds: number): Promise<SyncOutcome> {
    const { ref, repos } = this;
    const pageState = this.progress.pageState as PageState;
    await this.kind?.flush();
    this.lease.assertHeld();
    if (this.progress.phase === "paging") this.progress.splitAtPage = pageState.page;
    const checkpoint: SyncCheckpoint = {
      mode: this.mode,
      force: this.force,
      invocation: this.invocationNumber,
      reconcile: this.reconcile,
      seen: this.progress.seen,
      itemsFailed: this.progress.itemsFailed,
      itemsDuplicate: this.progress.itemsDuplicate,
      pages: this.progress.pages,
      phase: this.progress.phase,
      deactivated: this.progress.deactivated,
      pageState: pageStateRecord(pageState),
    };
    if (this.progress.splitAtPage !== undefined) checkpoint.splitAtPage = this.progress.splitAtPage;
    if (this.progress.objectParts.length > 0) checkpoint.objectParts = this.progress.objectParts;
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
        pages: this.progress.pages,
        itemsFound: this.progress.seen.size,
        itemsFailed: this.progress.itemsFailed,
        itemsDuplicate: this.progress.itemsDuplicate,
      },
      { expectStatus: ["syncing"] },
    );
    return this.handOver(delaySeconds, { page: pageState.page });
  }

  /** Releases the lease to a continuation message (sent with `delaySeconds`). */
  async handOver(delaySeconds: number, continuation?: { page: number }): Promise<SyncOutcome> {
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
      seen: this.progress.seen.size,
    });
    return {
      status: "continued",
      jobId: this.jobId,
      page: continuation?.page ?? 0,
      delaySeconds,
      itemWrites: this.itemWrites,
    };
  }

  /** Whether the partition's previous job warned about this very drop (then this sync confirms it). */
  async previousJobWarned(marker: string): Promise<boolean> {
    const previousId = this.partition.lastJobId;
    if (!previousId || previousId === this.jobId) return false;
    const previous = await this.repos.jobs.get(this.ref.tenantId, this.ref.integrationId, previousId);
    return previous?.status === "completed" && previous.warnings.some((warning) => warning.includes(marker));
  }

  /**
   * Commits: counts on the job first (so a crash after the partition flip still leaves them), then the new data
   * version (`write`), then the partition, then the job's completion; old versions and the checkpoint are removed last.
   */
  async commit(config: ReferenceDataConfig, input: CommitInput): Promise<SyncOutcome> {
    const { ref, repos } = this;
    const { counts, warnings, itemsDeactivated, write, itemCount, totalCount = itemCount } = input;
    this.lease.assertHeld();
    await repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      this.jobId,
      { ...counts, itemsDeactivated, pages: this.progress.pages, warnings },
      { expectStatus: ["syncing"] },
    );
    const written = await write();
    const snapshot = await writeIndexSnapshot(
      { repos, lease: this.lease, log: this.log },
      ref,
      {
        version: written.version,
        previousVersion: this.partition.version,
        previousSnapshotId: this.partition.snapshotId,
        changed: input.changedItems,
        ...(this.partition.totalCount === undefined ? {} : { previousCount: this.partition.totalCount }),
        now: this.now(),
      },
      config,
    );
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
      snapshotId: snapshot.snapshotId,
    });
    const finished: Job = { ...this.job, ...counts, itemsDeactivated, warnings };
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
  async cleanUp(newVersion: number): Promise<void> {
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

  // ---------------------------------------------------------------- failures

  failureContext() {
    return {
      ttlSeconds: this.ttlSeconds(),
      consecutiveFailures: this.partition.consecutiveFailures,
      random: this.options.random,
    };
  }
}
