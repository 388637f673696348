/**
 * The change feed's storage (DESIGN.md "Change feed"). A sync stages one row per changed item under its job
 * (`CHG#{jobId}#{externalId}`, written beside the item rows, overwritten when a redelivered or resumed job sees the item
 * again), and, once the partition has flipped to the job's new data version, one commit row (`CLOG#{version}`) naming
 * the job. Readers follow commit rows in version order and read only the staged rows of committed jobs, so the work
 * of a job that never committed (a crash, a take-over) is never visible, and each change is read exactly once.
 */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { itemStatusSchema, type PartitionRef } from "../domain/index.js";
import { batchWriteAll, type RetryOptions, type WriteRequest } from "./batch-write.js";
import { isConditionFailed } from "./ddb.js";
import { dataPk, keys } from "./keys.js";
import { parseRow, type Row } from "./rows.js";

export const changeKindSchema = z.enum(["created", "updated", "deactivated", "deleted", "reactivated"]);
export type ChangeKind = z.infer<typeof changeKindSchema>;

export const changeRecordSchema = z.object({
  externalId: z.string(),
  name: z.string(),
  change: changeKindSchema,
  status: itemStatusSchema,
  metadata: z.record(z.string(), z.unknown()).default({}),
  changedAt: z.string(),
  jobId: z.string(),
});
export type ChangeRecord = z.infer<typeof changeRecordSchema>;

export const commitRecordSchema = z.object({
  version: z.number().int().min(1),
  jobId: z.string(),
  committedAt: z.string(),
  changes: z.number().int().min(0),
});
export type CommitRecord = z.infer<typeof commitRecordSchema>;

export interface ChangeRepository {
  /** Stages a job's change rows (BatchWriteItem, 25 per request); expiresAt is epoch seconds. */
  stage(ref: PartitionRef, records: ChangeRecord[], expiresAt: number): Promise<{ requests: number }>;
  /** Writes the commit row of `commit.version` unless one exists; false when it already did. */
  recordCommit(ref: PartitionRef, commit: CommitRecord, expiresAt: number): Promise<boolean>;
  /** Commit rows with afterVersion < version ≤ upToVersion, oldest first, at most `limit`. */
  commits(ref: PartitionRef, afterVersion: number, upToVersion: number, limit: number): Promise<CommitRecord[]>;
  /** A committed job's staged changes after `afterExternalId` (externalId order), at most `limit`. */
  changes(
    ref: PartitionRef,
    jobId: string,
    afterExternalId: string | undefined,
    limit: number,
  ): Promise<{ records: ChangeRecord[]; more: boolean }>;
}

export class DynamoChangeRepository implements ChangeRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retry: RetryOptions = {},
  ) {}

  async stage(ref: PartitionRef, records: ChangeRecord[], expiresAt: number): Promise<{ requests: number }> {
    if (records.length === 0) return { requests: 0 };
    const rows = new Map<string, Row>();
    for (const record of records) {
      rows.set(record.externalId, {
        ...keys.change(ref, record.jobId, record.externalId),
        entity: "change",
        ...record,
        expiresAt,
      });
    }
    const requests: WriteRequest[] = [...rows.values()].map((Item) => ({ PutRequest: { Item } }));
    return batchWriteAll(this.doc, this.tableName, requests, this.retry);
  }

  async recordCommit(ref: PartitionRef, commit: CommitRecord, expiresAt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.commit(ref, commit.version), entity: "commit", ...commit, expiresAt },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async commits(ref: PartitionRef, afterVersion: number, upToVersion: number, limit: number): Promise<CommitRecord[]> {
    if (upToVersion <= afterVersion) return [];
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
        ExpressionAttributeValues: {
          ":pk": dataPk(ref),
          ":from": keys.commit(ref, afterVersion + 1).SK,
          ":to": keys.commit(ref, upToVersion).SK,
        },
        Limit: Math.max(1, Math.min(limit, 1_000)),
      }),
    );
    return ((result.Items ?? []) as Row[]).map((row) => parseRow(commitRecordSchema, row, "commit"));
  }

  async changes(
    ref: PartitionRef,
    jobId: string,
    afterExternalId: string | undefined,
    limit: number,
  ): Promise<{ records: ChangeRecord[]; more: boolean }> {
    const prefix = keys.changePrefix(jobId);
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": dataPk(ref), ":prefix": prefix },
        ...(afterExternalId === undefined
          ? {}
          : { ExclusiveStartKey: { PK: dataPk(ref), SK: keys.change(ref, jobId, afterExternalId).SK } }),
        // One extra row tells whether the job has more changes than this page.
        Limit: limit + 1,
      }),
    );
    const rows = (result.Items ?? []) as Row[];
    const records = rows.slice(0, limit).map((row) => parseRow(changeRecordSchema, row, "change"));
    return { records, more: rows.length > limit || result.LastEvaluatedKey !== undefined };
  }
}
