/** The change-feed rows a sync stages: one per item that changed against the committed state. */
import type { ItemStatus } from "../domain/entities.js";
import type { ExtractedItem } from "../extraction/extract.js";
import type { ChangeKind, ChangeRecord } from "../storage/change-repository.js";
import type { StatusChangedRow } from "../storage/ports.js";
import type { Change } from "./diff.js";

/** The feed row of an observed item that changed (`change` is never "unchanged" here), with the status it is written. */
export function changeRecordOf(
  item: ExtractedItem,
  change: Exclude<Change, "unchanged">,
  status: ItemStatus,
  jobId: string,
  now: string,
): ChangeRecord {
  const kind: ChangeKind = change;
  return {
    externalId: item.externalId,
    name: item.name,
    change: kind,
    status,
    metadata: item.metadata,
    changedAt: now,
    jobId,
  };
}

/** Feed rows of the finish's status changes: items a full sync deactivated (not seen) or marked deleted. */
export function statusChangeRecords(rows: StatusChangedRow[], jobId: string, now: string): ChangeRecord[] {
  return rows.map((row) => ({
    externalId: row.externalId,
    name: row.name,
    change: row.status === "deleted" ? "deleted" : "deactivated",
    status: row.status,
    metadata: row.metadata,
    changedAt: now,
    jobId,
  }));
}
