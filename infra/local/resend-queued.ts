/**
 * The embedded SQS keeps no messages across restarts, so a partition that was `queued` when the stack stopped has a
 * job waiting for a message that no longer exists. In AWS the due index would bring it back at its requeue deadline
 * (up to 15 minutes later); locally the stack treats every `queued` partition as due at once (DESIGN.md, "Local
 * stack") by sending its job's message again. The job keeps its id, its trigger and its checkpoint, so a sync that
 * was between two invocations resumes where it stopped, and the job history shows one job, not a lost one and a new
 * one. A `syncing` partition is left alone: its lease expires within two minutes and the planner takes it over.
 */
import type { QueueMessage } from "../../shared/domain/sync-message.js";
import type { Logger } from "../../shared/log.js";
import type { PageKey, Repositories } from "../../shared/storage/ports.js";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";
import type { SyncQueue } from "../../shared/sync/sync-queue.js";

/** Later than any due time: a queued partition's due-index key is its requeue deadline, in the future. */
const END_OF_TIME = "9999-12-31T23:59:59.999Z";

/** Re-sends the message of every `queued` partition; returns how many were sent and how many could not be. */
export async function resendQueuedPartitions(deps: {
  repos: Repositories;
  queue: SyncQueue;
  log: Logger;
}): Promise<{ resent: number; failed: number }> {
  const { repos, queue, log } = deps;
  const messages: QueueMessage[] = [];
  for (let shard = 0; shard < TABLE_DEFINITION.dueShards; shard++) {
    let startKey: PageKey | undefined;
    do {
      const page = await repos.partitions.queryDue(shard, END_OF_TIME, {
        limit: 100,
        ...(startKey ? { startKey } : {}),
      });
      for (const entry of page.items) {
        if (entry.status !== "queued" || !entry.currentJobId) continue;
        const job = await repos.jobs.get(entry.ref.tenantId, entry.ref.integrationId, entry.currentJobId);
        // A finished job with a queued partition is a claim in progress elsewhere; the due index settles it.
        if (job && (job.status === "completed" || job.status === "failed")) continue;
        const message: QueueMessage = {
          v: 1,
          kind: "sync",
          ...entry.ref,
          jobId: entry.currentJobId,
          trigger: job?.trigger ?? "schedule",
        };
        if (job) message.mode = job.mode;
        if (job?.checkpoint) message.continuation = { page: job.checkpoint.page };
        messages.push(message);
      }
      startKey = page.nextKey;
    } while (startKey);
  }
  if (messages.length === 0) return { resent: 0, failed: 0 };
  const { failed } = await queue.send(messages);
  // Not fatal: the due index brings these back at their requeue deadline.
  if (failed.length > 0) log.warn("some queued partitions could not be re-sent", { failed: failed.length });
  log.info("re-sent the messages of partitions queued before the restart", { resent: messages.length - failed.length });
  return { resent: messages.length - failed.length, failed: failed.length };
}
