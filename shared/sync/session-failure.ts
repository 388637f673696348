/**
 * How a sync session ends when something went wrong: the failure policy (./failure-policy.ts) decides, and this applies
 * it — a transient error hands the lease back for SQS's redelivery, a rate limit continues later, anything else fails
 * the job and records the failure on the partition (rescheduled with backoff, or paused), then announces it.
 */
import { handleGatewayKeyRefused } from "../credentials/tenant-pause.js";
import { iso } from "../domain/clock.js";
import type { Job } from "../domain/entities.js";
import { ConflictError } from "../domain/errors.js";
import { isGatewayError } from "../gateway/errors.js";
import { announceFailure } from "./announce.js";
import { RETRY_BASE_MS, TRANSIENT_RETRY_DELAY_SECONDS } from "./durations.js";
import { announceDeps, SimulatedCrash, type SyncOutcome } from "./engine.js";
import { decideFailure } from "./failure-policy.js";
import { LeaseLostError } from "./lease.js";
import type { SyncSession } from "./session.js";

/** Turns a sync's failure into its outcome; throws the error back only when SQS must redeliver the message. */
export async function failSession(session: SyncSession, error: unknown): Promise<SyncOutcome> {
  if (error instanceof SimulatedCrash) throw error;
  if (error instanceof LeaseLostError || error instanceof ConflictError) {
    // Someone else owns the partition or the job now: write nothing more.
    session.log.warn("sync abandoned: lease or job taken over", { jobId: session.jobId, error });
    return { status: "skipped", reason: "lease lost", jobId: session.jobId };
  }
  let decision = decideFailure(error, session.failureContext());
  if (decision.action === "transient") {
    session.log.error("transient failure; the message will be redelivered", { jobId: session.jobId, error });
    const released = await releaseForRedelivery(session);
    if (released && session.message.jobId === undefined) {
      // A redelivered jobless message would find the partition claimed by this very job and skip it: hand the job
      // over to a copy that names it. If that send fails, SQS redelivers the original and the due index backs it up.
      const { reconcile: _reconcile, ...rest } = session.message;
      const sent = await session.deps.queue
        .send([{ ...rest, jobId: session.jobId }], { delaySeconds: TRANSIENT_RETRY_DELAY_SECONDS })
        .catch(() => ({ failed: [rest] }));
      if (sent.failed.length === 0) {
        return {
          status: "continued",
          jobId: session.jobId,
          page: 0,
          delaySeconds: TRANSIENT_RETRY_DELAY_SECONDS,
          itemWrites: session.itemWrites,
        };
      }
    }
    throw error;
  }
  if (decision.action === "continue_later") {
    // Rate limited outside paging (object syncs): start over after the delay.
    return session.handOver(decision.delaySeconds);
  }
  if (
    decision.action === "pause" &&
    decision.reason === "config" &&
    session.resumed &&
    session.pagesThisInvocation === 0
  ) {
    // A cursor saved in a checkpoint can expire upstream; that is no reason to stop the source. Retry from scratch.
    decision = { action: "reschedule", error: { ...decision.error, retryable: true }, retryInMs: RETRY_BASE_MS };
  }
  const jobError = decision.error;
  const now = session.now();
  await session.lease.stop();
  const failure = {
    jobId: session.jobId,
    owner: session.invocation.invocationId,
    now,
    error: jobError,
    nextSyncAt: now + (decision.action === "reschedule" ? decision.retryInMs : 0),
  };
  const paused = decision.action === "pause" ? decision.reason : undefined;
  try {
    await session.repos.partitions.recordFailure(session.ref, {
      ...failure,
      ...(paused ? { pause: paused } : {}),
      ...(paused === "config" && session.source ? { sourceRevision: session.source.revision } : {}),
    });
    const failedJob: Job = { ...session.job, itemsFailed: session.progress.itemsFailed, error: jobError };
    await announceFailure(announceDeps(session.deps), failedJob, paused);
    await session.repos.jobs.update(
      session.ref.tenantId,
      session.ref.integrationId,
      session.jobId,
      {
        status: "failed",
        completedAt: iso(now),
        error: jobError,
        pages: session.progress.pages,
        itemsFailed: session.progress.itemsFailed,
        itemsDuplicate: session.progress.itemsDuplicate,
      },
      { expectStatus: ["syncing"], removeCheckpoint: true },
    );
  } catch (caught) {
    if (caught instanceof ConflictError) return { status: "skipped", reason: "lease lost", jobId: session.jobId };
    throw caught;
  }
  if (session.checkpointChunks > 0) {
    await session.repos.jobs
      .deleteCheckpoint(session.ref.tenantId, session.ref.integrationId, session.jobId, session.checkpointChunks)
      .catch((cause: unknown) =>
        session.log.warn("checkpoint clean-up failed", { jobId: session.jobId, error: cause }),
      );
  }
  session.log.warn("sync failed", { jobId: session.jobId, error: jobError, paused });
  if (paused === "gateway_key") await pauseTenant(session, error);
  return paused
    ? { status: "failed", jobId: session.jobId, error: jobError, paused }
    : { status: "failed", jobId: session.jobId, error: jobError };
}

/** The tenant's Waygate key is missing or refused: the rest of the tenant pauses too (best effort, logged). */
async function pauseTenant(session: SyncSession, error: unknown): Promise<void> {
  const keyVersion = isGatewayError(error) ? error.keyVersion : undefined;
  await handleGatewayKeyRefused(session.deps, session.ref.tenantId, keyVersion).catch((cause: unknown) =>
    session.log.error("could not pause the tenant after its gateway key was refused", { error: cause }),
  );
}

/** Hands the lease back (same job, queued) so the redelivered message can take it at once. Best effort. */
async function releaseForRedelivery(session: SyncSession): Promise<boolean> {
  try {
    await session.lease.stop();
    const now = session.now();
    await session.repos.partitions.requeue(session.ref, {
      jobId: session.jobId,
      owner: session.invocation.invocationId,
      now,
      deadline: now + session.options.requeueWindowMs,
    });
    return true;
  } catch (error) {
    // The lease then simply expires and the due index brings the partition back.
    session.log.warn("could not release the lease after a transient failure", { jobId: session.jobId, error });
    return false;
  }
}
