/**
 * A list sync (DESIGN.md "Sync flow" 2, "Storage"): page through the action, diff every item against the committed
 * hash manifest, write only the rows that changed (and their change-feed rows), and at the finish apply soft deletes
 * (full syncs, behind the drop guard), then commit a new manifest through the session. A full sync whose paging spanned
 * invocations first confirms that unseen items are really gone (`confirmUnseen`).
 *
 * The session (./session.ts) owns the lease, the job, the checkpoint and the commit; this module owns what a list is.
 */
import { iso } from "../domain/clock.js";
import { type Item, itemContentOf } from "../domain/entities.js";
import { NotFoundError } from "../domain/errors.js";
import type { ReferenceDataConfig } from "../domain/source-config.js";
import type { ExtractedItem } from "../extraction/extract.js";
import { extractItems } from "../extraction/extract.js";
import { firstPage, nextPage } from "../gateway/pagination.js";
import type { ChangeRecord } from "../storage/change-repository.js";
import type { Manifest } from "../storage/ports.js";
import { expiresAfterDays } from "./announce.js";
import { changeRecordOf, statusChangeRecords } from "./change-records.js";
import {
  changedIds,
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
  rowEntryFor,
  statusChanges,
} from "./drop-guard.js";
import type { JobCounts, SyncOutcome } from "./engine.js";
import { incrementalSince } from "./mode.js";
import type { SyncKind, SyncProgress, SyncSession } from "./session.js";

export class ListSync implements SyncKind {
  /** The committed manifest this sync diffs against. */
  private committed: Manifest = new Map();
  /** Repaired manifest: the committed one was missing or unreadable and was rebuilt from the rows. */
  private committedRebuilt = false;
  /** The rows as stored, when they may hold versions nothing committed (`reconcile`). */
  private rows: Manifest | undefined;
  /** Changed items waiting for a full BatchWriteItem round. */
  private buffer: Item[] = [];
  /** Change-feed rows observed and not yet staged (written with the item rows). */
  private changes: ChangeRecord[] = [];
  private deactivatedCount = 0;

  constructor(private readonly session: SyncSession) {}

  private get progress(): SyncProgress {
    return this.session.progress;
  }

  flush(): Promise<void> {
    return this.writeBuffered(true);
  }

  async sync(config: ReferenceDataConfig): Promise<SyncOutcome> {
    await this.loadCommitted();
    if (!this.progress.pageState) {
      const base: Record<string, unknown> = { ...(config.request ?? {}) };
      if (this.session.mode === "incremental" && config.incremental) {
        const since = incrementalSince(this.session.partition, this.session.options.incrementalSkewMs);
        if (since !== undefined) base[config.incremental.sinceParam] = since;
      }
      this.progress.pageState = firstPage(config.pagination, base);
    }
    if (this.progress.phase === "paging") {
      while (!this.progress.pageState.done) {
        const read = await this.session.readPage();
        if ("suspended" in read) return read.suspended;
        const { state, response } = read;
        const extraction = extractItems(config, response.data);
        if (this.session.reconcile && !this.rows)
          this.rows = await this.session.repos.items.loadHashes(this.session.ref);
        const observedAt = iso(this.session.now());
        for (const item of extraction.items) this.observe(item, observedAt);
        this.progress.itemsFailed += extraction.failed;
        this.progress.itemsDuplicate += extraction.duplicates;
        this.progress.pages++;
        this.session.pagesThisInvocation++;
        if (extraction.failed > 0) {
          this.session.log.warn("items skipped", {
            jobId: this.session.jobId,
            page: state.page,
            failures: extraction.failures.slice(0, 5),
          });
        }
        const next = nextPage(config.pagination, state, response, extraction.matched);
        await this.writeBuffered(false);
        this.progress.pageState = next;
        await this.session.afterPage(state.page);
      }
      this.progress.phase = this.startConfirmation(config) ? "confirming" : "finishing";
    }
    if (this.progress.phase === "confirming") {
      const suspended = await this.confirmUnseen(config);
      if (suspended) return suspended;
      this.progress.phase = "finishing";
    }
    return this.finishList(config);
  }

  /**
   * A full sync whose paging was split across invocations may have missed items that moved to a page it had already
   * read (offset paging, a record removed meanwhile). If committed active items went unseen, their absence is
   * confirmed by reading the pages once more before anything is deactivated.
   */
  private startConfirmation(config: ReferenceDataConfig): boolean {
    if (this.session.mode !== "full" || this.progress.splitAtPage === undefined) return false;
    if (vanishedActive(this.committed, this.progress.seen).length === 0) return false;
    this.progress.pageState = firstPage(config.pagination, { ...(config.request ?? {}) });
    this.session.log.info("confirming unseen items: the listing spanned invocations", { jobId: this.session.jobId });
    return true;
  }

  /**
   * The confirmation pass: the pages before the last continuation's page are read again (an item can only have moved
   * into pages already read), and any item this sync had not seen is observed, so an item that moved is kept (and
   * updated if it changed). It stops as soon as nothing unseen is left, and checkpoints like paging.
   */
  private async confirmUnseen(config: ReferenceDataConfig): Promise<SyncOutcome | undefined> {
    let unseen = vanishedActive(this.committed, this.progress.seen).length;
    const until = this.progress.splitAtPage ?? 0;
    while (
      this.progress.pageState &&
      !this.progress.pageState.done &&
      this.progress.pageState.page < until &&
      unseen > 0
    ) {
      const read = await this.session.readPage("confirm-");
      if ("suspended" in read) return read.suspended;
      const { state, response } = read;
      const extraction = extractItems(config, response.data);
      const observedAt = iso(this.session.now());
      for (const item of extraction.items) {
        if (this.progress.seen.has(item.externalId)) continue;
        this.observe(item, observedAt);
        if (this.committed.get(item.externalId)?.status === "active") unseen--;
      }
      this.progress.pages++;
      this.session.pagesThisInvocation++;
      this.progress.pageState = nextPage(config.pagination, state, response, extraction.matched);
      await this.writeBuffered(false);
      await this.session.afterPage(state.page);
    }
    return undefined;
  }

  /** The committed manifest; rebuilt from the rows when it is missing or unreadable. */
  private async loadCommitted(): Promise<void> {
    const { version, manifestChunks } = this.session.partition;
    if (version === 0) return;
    if (manifestChunks > 0) {
      try {
        this.committed = await this.session.repos.manifests.read(this.session.ref, version, manifestChunks);
        return;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    this.session.log.warn("manifest missing, diffing against the stored items", { jobId: this.session.jobId, version });
    this.committed = await this.session.repos.items.loadHashes(this.session.ref);
    this.rows = this.committed;
    this.committedRebuilt = true;
  }

  private observe(item: ExtractedItem, now: string): void {
    const next = { hash: item.contentHash, status: observedStatus(item.deleted) };
    const earlier = this.progress.seen.get(item.externalId);
    if (earlier) this.progress.itemsDuplicate++;
    const committed = this.committed.get(item.externalId);
    const row = this.rows ? this.rows.get(item.externalId) : committed;
    // A full sync writes "active → deleted" as still active: the drop guard decides at the finish.
    const written = rowEntryFor(this.session.mode, committed, next);
    // The change feed: one row per item that differs from the committed state (a deferred deletion is staged by the
    // finish, which overwrites this row for the item).
    const change = classifyChange(committed, written);
    if (
      change !== "unchanged" &&
      (earlier === undefined || earlier.hash !== next.hash || earlier.status !== next.status)
    ) {
      this.changes.push(changeRecordOf(item, change, written.status, this.session.jobId, now));
    }
    if (needsWrite(row, earlier && rowEntryFor(this.session.mode, committed, earlier), written)) {
      this.buffer.push({
        ...itemContentOf(item),
        status: written.status,
        contentHash: item.contentHash,
        jobId: this.session.jobId,
        change: rowChange(change),
        createdAt: now,
        updatedAt: now,
        ...(written.status === "deleted" ? { expiresAt: this.itemExpiresAt() } : {}),
      });
    }
    this.progress.seen.set(item.externalId, next);
  }

  /** Writes buffered items: only whole batches of 25 unless `all`, so batches stay full. */
  private async writeBuffered(all: boolean): Promise<void> {
    const count = all
      ? this.buffer.length
      : this.buffer.length >= this.session.options.writeBufferItems
        ? this.buffer.length - (this.buffer.length % 25)
        : 0;
    if (count === 0 && !(all && this.changes.length > 0)) return;
    this.session.lease.assertHeld();
    const batch = this.buffer.splice(0, count);
    if (batch.length > 0) await this.session.repos.items.batchPut(this.session.ref, batch);
    this.session.itemWrites += batch.length;
    await this.stageChanges(this.changes.splice(0));
  }

  /** Writes change-feed rows; they stay invisible until this job's commit row exists. */
  private async stageChanges(records: ChangeRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A day beyond the commit row's retention, so a commit still listed never has its changes expired under it.
    const expiresAt = expiresAfterDays(this.session.now(), this.session.options.changeRetentionDays + 1);
    await this.session.repos.changes.stage(this.session.ref, records, expiresAt);
  }

  private itemExpiresAt(): number {
    return expiresAfterDays(this.session.now(), this.session.options.inactiveRetentionDays);
  }

  private async finishList(config: ReferenceDataConfig): Promise<SyncOutcome> {
    const { ref, repos } = this.session;
    await this.writeBuffered(true);
    if (this.session.reconcile && !this.rows) this.rows = await repos.items.loadHashes(ref);
    const counts = tally(this.committed, this.progress.seen);
    const warnings = [...this.session.job.warnings];
    let deactivate: string[] = [];
    let deleting: string[] = [];
    let held: string[] = [];
    let orphans: string[] = [];
    if (this.session.mode === "full") {
      const vanished = vanishedActive(this.committed, this.progress.seen);
      const newly = newlyDeleted(this.committed, this.progress.seen);
      const activeBefore = countActive(this.committed);
      const leaving = vanished.length + newly.length;
      let apply = true;
      if (isSuspiciousDrop(activeBefore, leaving)) {
        const marker = dropMarker(vanished, newly);
        apply = this.session.force || (await this.session.previousJobWarned(marker));
        // A finish that runs again after a crash must not repeat the warning.
        if (!apply && !warnings.some((warning) => warning.includes(marker))) {
          warnings.push(
            `Suspicious drop: ${leaving} of ${activeBefore} active items would leave active (${vanished.length} not ` +
              `returned, ${newly.length} marked deleted); status changes skipped until a later sync confirms the ` +
              `drop or a sync is forced ${marker}`,
          );
          this.session.log.warn("suspicious drop: soft deletes skipped", {
            jobId: this.session.jobId,
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
        if (this.rows) orphans = vanishedActive(this.rows, this.progress.seen, this.committed);
      } else {
        held = newly;
        counts.deleted -= newly.length;
        counts.unchanged += newly.length;
      }
    }
    const now = this.session.now();
    const changes = statusChanges(deactivate, deleting);
    for (let i = this.progress.deactivated; i < changes.length; i += this.session.options.deactivateChunk) {
      if (i > this.progress.deactivated && this.session.timeLow()) {
        this.progress.deactivated = i;
        return this.session.suspend(0);
      }
      this.session.lease.assertHeld();
      const rows = await applyStatusChanges(
        repos.items,
        ref,
        changes.slice(i, i + this.session.options.deactivateChunk),
        {
          jobId: this.session.jobId,
          now,
          expiresAt: this.itemExpiresAt(),
        },
      );
      await this.stageChanges(statusChangeRecords(rows, this.session.jobId, iso(now)));
    }
    this.progress.deactivated = changes.length;
    if (orphans.length > 0) {
      this.session.lease.assertHeld();
      await repos.items.setStatus(ref, orphans, "inactive", {
        jobId: this.session.jobId,
        now,
        expiresAt: this.itemExpiresAt(),
      });
      this.session.log.warn("uncommitted rows of an interrupted sync deactivated", {
        jobId: this.session.jobId,
        count: orphans.length,
      });
    }
    counts.deleted += deactivate.length;
    this.deactivatedCount = deactivate.length;

    const base = this.rows ? mergeRows(this.committed, this.rows) : this.committed;
    const manifest = nextManifest(base, this.progress.seen, [...deactivate, ...orphans]);
    holdDeletions(manifest, held);
    const jobCounts: JobCounts = {
      itemsFound: counts.found,
      itemsCreated: counts.created,
      itemsUpdated: counts.updated,
      itemsDeleted: counts.deleted,
      itemsFailed: this.progress.itemsFailed,
      itemsDuplicate: this.progress.itemsDuplicate,
    };
    // What the rows hold is what the manifests say at each commit, so this diff is what changed in the rows since the
    // committed version (the index snapshot is updated with just these), unless the committed manifest was rebuilt
    // from the rows themselves. An unchanged resync keeps the committed manifest: no write, no version flip.
    const changedItems = changedIds(this.committed, manifest);
    const changed = this.committedRebuilt || this.session.partition.version === 0 || changedItems.length > 0;
    return this.session.commit(config, {
      counts: jobCounts,
      warnings,
      itemsDeactivated: this.deactivatedCount,
      write: async () => {
        if (!changed) {
          return {
            version: this.session.partition.version,
            manifestChunks: this.session.partition.manifestChunks,
            objectChunks: 0,
          };
        }
        const { chunks } = await repos.manifests.write(ref, this.session.partition.version + 1, manifest);
        return { version: this.session.partition.version + 1, manifestChunks: chunks, objectChunks: 0 };
      },
      itemCount: countActive(manifest),
      totalCount: manifest.size,
      ...(this.committedRebuilt ? {} : { changedItems }),
    });
  }
}
