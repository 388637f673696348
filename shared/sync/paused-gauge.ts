/**
 * The PartitionsPaused gauge: how many partitions are paused right now, per reason, counted by the planner from the
 * sparse, keys-only paused index (GSI2): one Query per shard, the 16 in parallel, each paginated. Its read cost grows
 * with the number of paused partitions, not of all partitions: with none paused it is 16 empty Queries (8 read units);
 * each paused partition adds one index entry of 120–215 bytes (its keys; the upper end with UUID IDs), so 38–68 of
 * them per read unit (eventually consistent Queries, 0.5 unit per 4 KB). 12,500 paused (5% of 250,000) cost about 330
 * read units a run (`npm run bench -- pausedGauge`): at one run every 5 minutes about 95,000 a day, about one US cent
 * on demand; even all 250,000 paused cost about 6,600 a run, 0.25 USD a day. Cheap enough to publish on every run, so
 * there is no every-Nth-run throttle. The 16 Queries run in parallel, each reading at most a few 1 MB pages.
 *
 * Every reason is published, 0 for those with none, so the dashboard's lines drop to zero when a cause is fixed.
 */
import { pauseReasonSchema } from "../domain/entities.js";
import type { Logger } from "../log.js";
import type { ServiceMetrics } from "../metrics.js";
import type { Repositories } from "../storage/ports.js";
import { TABLE_DEFINITION } from "../storage/table.js";

/** Paused partitions by reason. */
export type PausedCounts = Record<string, number>;

/** Paused partitions per reason, every known reason present (0 when none). */
export async function countPausedPartitions(repos: Pick<Repositories, "partitions">): Promise<PausedCounts> {
  const shards = Array.from({ length: TABLE_DEFINITION.dueShards }, (_, shard) => shard);
  const perShard = await Promise.all(shards.map((shard) => repos.partitions.countPaused(shard)));
  const counts: PausedCounts = Object.fromEntries(pauseReasonSchema.options.map((reason) => [reason, 0]));
  // A reason this version does not know (written by a newer one during a deploy) is counted under its own name.
  for (const shardCounts of perShard) {
    for (const [reason, count] of shardCounts) counts[reason] = (counts[reason] ?? 0) + count;
  }
  return counts;
}

/**
 * Counts and records the gauge, one value per reason. A count that fails is logged and skips this run's gauge (a gap
 * in the dashboard's lines), never the planner run. Returns the counts, undefined when skipped.
 */
export async function publishPausedGauge(deps: {
  repos: Pick<Repositories, "partitions">;
  metrics: ServiceMetrics;
  log: Logger;
}): Promise<PausedCounts | undefined> {
  let counts: PausedCounts;
  try {
    counts = await countPausedPartitions(deps.repos);
  } catch (error) {
    deps.log.error("planner could not count paused partitions", { error });
    return undefined;
  }
  for (const [reason, count] of Object.entries(counts)) deps.metrics.pausedPartitions(reason, count);
  return counts;
}
