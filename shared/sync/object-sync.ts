/**
 * An object sync (DESIGN.md "Sync flow", `syncType: object`): read the whole response (pages the gateway cuts are
 * merged back into one object, checkpointed like a list's), keep the committed object when the new one is canonically
 * the same or is held by the drop guard (empty, or under half the size), else commit it as a new version through the
 * session (./session.ts).
 */
import { iso } from "../domain/clock.js";
import { NotFoundError } from "../domain/errors.js";
import type { ReferenceDataConfig } from "../domain/source-config.js";
import { canonicalJson, extractObject } from "../extraction/extract.js";
import { firstPage, nextPage } from "../gateway/pagination.js";
import { objectHoldMarker, objectHoldReason } from "./drop-guard.js";
import type { JobCounts, SyncOutcome } from "./engine.js";
import type { SyncKind, SyncProgress, SyncSession } from "./session.js";

export class ObjectSync implements SyncKind {
  constructor(private readonly session: SyncSession) {}

  private get progress(): SyncProgress {
    return this.session.progress;
  }

  /** An object sync buffers no rows. */
  async flush(): Promise<void> {}

  async sync(config: ReferenceDataConfig): Promise<SyncOutcome> {
    const { ref, repos, partition } = this.session;
    const base = { ...(config.request ?? {}) };
    let data: unknown;
    if (config.pagination.strategy === "gateway") {
      // Pages the gateway itself cuts are merged back into one object; they checkpoint and continue like a list's.
      const suspended = await this.pageObject(config, base);
      if (suspended) return suspended;
      data = mergeObjectPages(this.progress.objectParts);
    } else {
      const response = await this.session.invoke(base, 0);
      this.progress.pages++;
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
          partition.lastSyncedAt ?? iso(this.session.now()),
        );
        unchanged = stored !== undefined && canonicalJson(stored.object) === canonical;
        committedBytes = stored?.bytes;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    const warnings = [...this.session.job.warnings];
    if (!unchanged && (await this.holdObject(committedBytes, object, canonical, warnings))) unchanged = true;
    const counts: JobCounts = {
      itemsFound: 1,
      itemsCreated: partition.version === 0 ? 1 : 0,
      itemsUpdated: partition.version > 0 && !unchanged ? 1 : 0,
      itemsDeleted: 0,
      itemsFailed: 0,
      itemsDuplicate: 0,
    };
    return this.session.commit(config, {
      counts,
      warnings,
      itemsDeactivated: 0,
      write: async () => {
        if (unchanged) return { version: partition.version, manifestChunks: 0, objectChunks: partition.objectChunks };
        this.session.lease.assertHeld();
        const { chunks } = await repos.objects.write(ref, partition.version + 1, object);
        return { version: partition.version + 1, manifestChunks: 0, objectChunks: chunks };
      },
      itemCount: 1,
    });
  }

  /** Reads the gateway's pages of an object into `objectParts`, suspending (with a checkpoint) when time runs low. */
  private async pageObject(
    config: ReferenceDataConfig,
    base: Record<string, unknown>,
  ): Promise<SyncOutcome | undefined> {
    this.progress.pageState ??= firstPage(config.pagination, base);
    while (!this.progress.pageState.done) {
      const read = await this.session.readPage();
      if ("suspended" in read) return read.suspended;
      const { state, response } = read;
      this.progress.objectParts.push(response.data);
      this.progress.pages++;
      this.session.pagesThisInvocation++;
      this.progress.pageState = nextPage(config.pagination, state, response, 1);
      await this.session.afterPage(state.page);
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
    if (reason === undefined || this.session.force) return false;
    const marker = objectHoldMarker(canonical);
    if (await this.session.previousJobWarned(marker)) return false;
    if (!warnings.some((warning) => warning.includes(marker))) {
      warnings.push(
        `Object held: ${reason}; the committed object is kept until a later sync returns the same or a sync is ` +
          `forced ${marker}`,
      );
      this.session.log.warn("object held", { jobId: this.session.jobId, reason });
    }
    return true;
  }
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
