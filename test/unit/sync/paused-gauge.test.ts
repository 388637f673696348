import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../../../shared/log.js";
import { noMetrics } from "../../../shared/metrics.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { publishPausedGauge } from "../../../shared/sync/paused-gauge.js";

/** Partitions with just `countPaused`, answering per shard. */
function repos(countPaused: (shard: number) => Promise<Map<string, number>>): Pick<Repositories, "partitions"> {
  return { partitions: { countPaused } as unknown as Repositories["partitions"] };
}

function recorder() {
  const gauge = new Map<string, number>();
  return { gauge, metrics: { ...noMetrics, pausedPartitions: (reason: string, n: number) => gauge.set(reason, n) } };
}

describe("PartitionsPaused gauge", () => {
  it("sums the 16 shards per reason and records every known reason, 0 for those with none", async () => {
    const shards: number[] = [];
    const { gauge, metrics } = recorder();
    const log = createLogger({}, "silent");
    await publishPausedGauge({
      repos: repos(async (shard) => {
        shards.push(shard);
        return new Map(shard % 2 === 0 ? [["gateway_key", 3]] : [["credentials", 1]]);
      }),
      metrics,
      log,
    });

    expect(shards.sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, n) => n));
    expect(Object.fromEntries(gauge)).toEqual({
      credentials: 8,
      config: 0,
      revoked: 0,
      source_deleted: 0,
      manual: 0,
      gateway_key: 24,
      connection_error: 0,
      connection_disabled: 0,
    });
  });

  it("counts a reason this version does not know under its own name", async () => {
    const { gauge, metrics } = recorder();
    const log = createLogger({}, "silent");
    await publishPausedGauge({
      repos: repos(async (shard) => new Map(shard === 0 ? [["future_reason", 2]] : [])),
      metrics,
      log,
    });
    expect(gauge.get("future_reason")).toBe(2);
    expect(gauge.get("manual")).toBe(0);
  });

  it("skips the gauge, logging why, when a shard cannot be read, and does not throw", async () => {
    const { gauge, metrics } = recorder();
    const log = createLogger({}, "silent");
    const error = vi.spyOn(log, "error");
    const result = await publishPausedGauge({
      repos: repos(async (shard) => {
        if (shard === 5) throw new Error("ResourceNotFoundException: GSI2");
        return new Map([["manual", 1]]);
      }),
      metrics,
      log,
    });
    expect(result).toBeUndefined();
    expect(gauge.size).toBe(0);
    expect(error).toHaveBeenCalledWith("planner could not count paused partitions", expect.anything());
  });
});
