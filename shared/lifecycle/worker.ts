/** The worker's lifecycle messages: `purge` (a revoked or removed partition's data) and `erase` (a whole tenant). */
import type { Clock } from "../domain/clock.js";
import { type EraseMessage, eraseMessageSchema, type PurgeMessage } from "../domain/sync-message.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";
import { type ErasureDeps, runErasure } from "./erasure.js";
import { purgePartition } from "./purge.js";
import type { TableRows } from "./table-rows.js";

export interface LifecycleDeps {
  repos: Pick<Repositories, "partitions">;
  rows: TableRows;
  erasure: ErasureDeps;
  clock: Clock;
  log: Logger;
}

/** An `erase` message, or undefined when `json` is not one (it is then parsed as a queue message). */
export function asEraseMessage(json: unknown): EraseMessage | undefined {
  if (typeof json !== "object" || json === null || (json as { kind?: unknown }).kind !== "erase") return undefined;
  const parsed = eraseMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export async function runLifecycleMessage(
  deps: LifecycleDeps,
  message: PurgeMessage | EraseMessage,
  remainingMs: () => number,
): Promise<string> {
  if (message.kind === "purge") {
    const outcome = await purgePartition(deps, message);
    return outcome.status === "purged" ? `purged ${outcome.rows} rows` : `kept: ${outcome.reason}`;
  }
  const { deleted, done } = await runErasure({ ...deps.erasure, rows: deps.rows, log: deps.log }, message, remainingMs);
  return done ? `erased (${deleted} rows in the last pass)` : `erasing (${deleted} rows)`;
}
