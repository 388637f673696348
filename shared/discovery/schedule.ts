/**
 * When discovery runs: on credentials save and `POST /api/v1/discovery` (queued now, deduplicated while a run is
 * queued or running), and by itself every DISCOVERY_INTERVAL_SECONDS — the tenant's discovery row sits in the due
 * index and the planner claims it like a partition. Each run is a `{ v: 1, kind: "discover", tenantId, runId }`
 * message that the worker runs (`runDiscoveryMessage`).
 */

import { handleGatewayKeyRefused } from "../credentials/tenant-pause.js";
import type { Clock } from "../domain/clock.js";
import { iso } from "../domain/clock.js";
import { type DiscoveryState, emptyDiscoveryCounts } from "../domain/discovery.js";
import { ConflictError } from "../domain/errors.js";
import type { DiscoverMessage } from "../domain/sync-message.js";
import { ulid } from "../domain/ulid.js";
import { discoveryEvent } from "../events/events.js";
import { isGatewayError } from "../gateway/errors.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";
import { REQUEUE_WINDOW_MS } from "../sync/durations.js";
import type { SyncQueue } from "../sync/sync-queue.js";
import { type DiscoveryDeps, discoverTenant } from "./run-discovery.js";

export const DEFAULT_DISCOVERY_INTERVAL_SECONDS = 900;
/** A queued run whose message is lost, or a running one whose worker died, comes back after this. */
export const DISCOVERY_REQUEUE_MS = REQUEUE_WINDOW_MS;

export interface ScheduleDeps {
  repos: Pick<Repositories, "discovery">;
  queue: SyncQueue | undefined;
  clock: Clock;
  log: Logger;
}

/** Queues a run now unless one is queued or running. `queued: false` = deduplicated. */
export async function requestDiscovery(
  deps: ScheduleDeps,
  tenantId: string,
  expectedDueSk?: string,
): Promise<{ queued: boolean; state: DiscoveryState }> {
  const now = deps.clock.now();
  const runId = ulid(now);
  const result = await deps.repos.discovery.request(tenantId, {
    runId,
    now,
    deadline: now + DISCOVERY_REQUEUE_MS,
    ...(expectedDueSk === undefined ? {} : { expectedDueSk }),
  });
  if (!result.queued) return result;
  const message: DiscoverMessage = { v: 1, kind: "discover", tenantId, runId };
  const sent = deps.queue ? await deps.queue.send([message]) : { failed: [message] };
  // Not lost: the row is in the due index at its deadline, and the planner queues it again then.
  if (sent.failed.length > 0) deps.log.warn("could not enqueue a discovery run; the planner retries it", { tenantId });
  return result;
}

/**
 * The planner's share: every tenant whose discovery is due, claimed on its exact due key and enqueued. With
 * `reclaimQueued` (the local stack at start, whose queue lost its messages) queued and running runs are taken at once.
 */
export async function planDiscoveries(
  deps: ScheduleDeps & { queue: SyncQueue },
  now: number,
  options: { reclaimQueued?: boolean } = {},
): Promise<number> {
  let startKey: Record<string, unknown> | undefined;
  let queued = 0;
  const until = options.reclaimQueued ? now + DISCOVERY_REQUEUE_MS + 60_000 : now;
  do {
    const page = await deps.repos.discovery.queryDue(iso(until), {
      limit: 100,
      ...(startKey === undefined ? {} : { startKey }),
    });
    for (const entry of page.items) {
      const inFlight = entry.status === "queued" || entry.status === "running";
      if (entry.dueAt > iso(now) && !inFlight) continue;
      try {
        if ((await requestDiscovery(deps, entry.tenantId, entry.dueSk)).queued) queued++;
      } catch (error) {
        if (!(error instanceof ConflictError))
          deps.log.error("could not plan a discovery", { tenantId: entry.tenantId, error });
      }
    }
    startKey = page.nextKey;
  } while (startKey);
  return queued;
}

/**
 * The worker's share: runs the discovery a message names, records its report and schedules the next run. A failure
 * (a listing failing halfway, the key refused) is recorded as `failed` and changed nothing.
 */
export async function runDiscoveryMessage(
  deps: DiscoveryDeps & { intervalSeconds?: number },
  message: DiscoverMessage,
  deadline: number,
): Promise<{ status: "completed" | "failed" | "skipped" }> {
  const { tenantId } = message;
  const now = deps.clock.now();
  let runId = message.runId;
  if (runId === undefined) {
    // From another service: queue it as a run of its own, deduplicated like POST /discovery.
    const requested = await deps.repos.discovery.request(tenantId, {
      runId: ulid(now),
      now,
      deadline: now + DISCOVERY_REQUEUE_MS,
    });
    if (!requested.queued) return { status: "skipped" };
    runId = requested.state.runId as string;
  }
  if (!(await deps.repos.discovery.start(tenantId, { runId, now, deadline: now + DISCOVERY_REQUEUE_MS }))) {
    return { status: "skipped" };
  }
  const interval = (deps.intervalSeconds ?? DEFAULT_DISCOVERY_INTERVAL_SECONDS) * 1000;
  const log = deps.log.child({ tenantId, runId });
  try {
    const report = await discoverTenant(deps, tenantId, deadline);
    await deps.repos.discovery.finish(tenantId, {
      runId,
      now: deps.clock.now(),
      status: "completed",
      report,
      nextRunAt: deps.clock.now() + interval,
    });
    log.info("discovery completed", { ...report, problems: report.problems.length });
    // After the commit, never before: consumers see only runs that happened.
    await deps.events
      ?.publish([
        discoveryEvent(tenantId, iso(deps.clock.now()), {
          integrations: report.integrations,
          sources: report.sources,
          connections: report.connections,
          problems: report.problems.length,
        }),
      ])
      .catch((error: unknown) => log.warn("could not publish the discovery event", { error }));
    return { status: "completed" };
  } catch (error) {
    const code = isGatewayError(error) ? error.code : "DISCOVERY_FAILED";
    const messageText = error instanceof Error ? error.message : String(error);
    const keyGone = isGatewayError(error) && error.kind === "gateway_key";
    log.warn("discovery failed; nothing was changed", { code, error: messageText });
    if (keyGone) {
      await handleGatewayKeyRefused(deps, tenantId, isGatewayError(error) ? error.keyVersion : undefined).catch(
        (cause: unknown) => log.error("could not pause the tenant after its gateway key was refused", { error: cause }),
      );
    }
    await deps.repos.discovery.finish(tenantId, {
      runId,
      now: deps.clock.now(),
      status: "failed",
      report: emptyDiscoveryCounts(),
      error: { code, message: messageText },
      // Without a usable key nothing is scheduled: saving credentials queues the next run.
      ...(keyGone ? {} : { nextRunAt: deps.clock.now() + Math.min(interval, 5 * 60_000) }),
    });
    return { status: "failed" };
  }
}
