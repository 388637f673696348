/**
 * Jobs, the audit trail: one row per sync attempt under the integration, sorted by its ULID so a reverse Query lists
 * the newest first. A running sync's checkpoint is a blob of chunks beside its job row (`JOB#{id}#CP#{n}`).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../domain/errors.js";
import {
  connectionIdSchema,
  dataTypeSchema,
  JOB_RETENTION_SECONDS,
  type Job,
  type JobError,
  type JobStatus,
  jobSchema,
  jobStatusSchema,
} from "../domain/index.js";
import { parseOrThrow } from "../domain/validate.js";
import type { BlobLocation, BlobStore } from "./blob-store.js";
import { isConditionFailed } from "./ddb.js";
import { integrationPk, keys } from "./keys.js";
import type { JobPatch, JobRepository, NewJob, Page, PageKey } from "./ports.js";
import { checkLimit, checkStartKey, fillPage, parseRow, UpdateBuilder } from "./rows.js";

export class DynamoJobRepository implements JobRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly blobs: BlobStore,
  ) {}

  async create(input: NewJob): Promise<Job> {
    const { ref } = input;
    const job: Job = {
      tenantId: ref.tenantId,
      integrationId: ref.integrationId,
      connectionId: ref.connectionId,
      dataType: ref.dataType,
      jobId: input.jobId,
      status: "pending",
      trigger: input.trigger,
      mode: input.mode,
      createdAt: iso(input.now),
      itemsFound: 0,
      itemsCreated: 0,
      itemsUpdated: 0,
      itemsDeleted: 0,
      itemsFailed: 0,
      itemsDuplicate: 0,
      itemsDeactivated: 0,
      pages: 0,
      invocations: 0,
      warnings: [],
      expiresAt: Math.floor(input.now / 1000) + JOB_RETENTION_SECONDS,
    };
    if (input.actionSlug !== undefined) job.actionSlug = input.actionSlug;
    const key = keys.job(ref.tenantId, ref.integrationId, input.jobId);
    keys.partition(ref); // validates connectionId and dataType, which are attributes here rather than key parts
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: "job", ...job },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (isConditionFailed(error))
        throw new ConflictError(`Job ${input.jobId} already exists`, { jobId: input.jobId });
      throw error;
    }
    return job;
  }

  async get(tenantId: string, integrationId: string, jobId: string): Promise<Job | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.job(tenantId, integrationId, jobId),
        ConsistentRead: true,
      }),
    );
    return result.Item ? parseRow(jobSchema, result.Item, "job") : undefined;
  }

  /** NotFoundError when the job does not exist; ConflictError when `expectStatus` does not hold. */
  async update(
    tenantId: string,
    integrationId: string,
    jobId: string,
    patch: JobPatch,
    options: { expectStatus?: JobStatus[]; removeCheckpoint?: boolean } = {},
  ): Promise<Job> {
    if (options.removeCheckpoint && patch.checkpoint !== undefined) {
      throw new ValidationError("A job update cannot both set and remove the checkpoint", { field: "checkpoint" });
    }
    const key = keys.job(tenantId, integrationId, jobId);
    const update = new UpdateBuilder().setAll(patch);
    if (options.removeCheckpoint) update.remove("checkpoint");
    const conditions = ["attribute_exists(PK)"];
    if (options.expectStatus !== undefined) {
      const statuses = options.expectStatus.map((status) => update.v(status));
      conditions.push(
        statuses.length > 0 ? `${update.n("status")} IN (${statuses.join(", ")})` : "attribute_not_exists(PK)",
      );
    }
    if (update.updateExpression === "")
      return this.checkUnchanged(tenantId, integrationId, jobId, options.expectStatus);
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update.updateExpression,
          ConditionExpression: conditions.join(" AND "),
          ReturnValues: "ALL_NEW",
          ...update.attributes,
        }),
      );
      return parseRow(jobSchema, result.Attributes ?? {}, "job");
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const current = await this.get(tenantId, integrationId, jobId);
    if (!current) throw new NotFoundError(`Job ${jobId} not found`, { jobId });
    throw new ConflictError(`Job ${jobId} is ${current.status}, expected ${options.expectStatus?.join(" or ")}`, {
      jobId,
      status: current.status,
    });
  }

  async failIfOpen(
    tenantId: string,
    integrationId: string,
    jobId: string,
    error: JobError,
    now: number,
    options: { removeCheckpoint?: boolean } = {},
  ): Promise<Job | undefined> {
    try {
      return await this.update(
        tenantId,
        integrationId,
        jobId,
        { status: "failed", completedAt: iso(now), error },
        { expectStatus: ["pending", "syncing"], ...(options.removeCheckpoint ? { removeCheckpoint: true } : {}) },
      );
    } catch (caught) {
      if (caught instanceof ConflictError || caught instanceof NotFoundError) return undefined;
      throw caught;
    }
  }

  /** Newest first; filters are applied while paging, so a page holds `limit` matching jobs unless the list ends. */
  async list(
    tenantId: string,
    integrationId: string,
    filter: { connectionId?: string; dataType?: string; status?: JobStatus; limit: number; startKey?: PageKey },
  ): Promise<Page<Job>> {
    const limit = checkLimit(filter.limit);
    const pk = integrationPk(tenantId, integrationId);
    const startKey = checkStartKey(filter.startKey, { PK: pk }, ["SK"], { SK: keys.jobPrefix });
    const names: Record<string, string> = { "#entity": "entity" };
    const values: Record<string, unknown> = { ":pk": pk, ":prefix": keys.jobPrefix, ":job": "job" };
    const filters = ["#entity = :job"];
    const equal = (attribute: string, value: unknown) => {
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
      filters.push(`#${attribute} = :${attribute}`);
    };
    if (filter.connectionId !== undefined) {
      equal("connectionId", parseOrThrow(connectionIdSchema, filter.connectionId, "connectionId", "connectionId"));
    }
    if (filter.dataType !== undefined) {
      equal("dataType", parseOrThrow(dataTypeSchema, filter.dataType, "dataType", "dataType"));
    }
    if (filter.status !== undefined) equal("status", parseOrThrow(jobStatusSchema, filter.status, "status", "status"));

    return fillPage(
      this.doc,
      this.tableName,
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        FilterExpression: filters.join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
      },
      // Read ahead: checkpoint rows and filtered-out jobs share the key range.
      { limit, startKey, readAhead: (remaining) => Math.min(1_000, Math.max(remaining * 2, 50)) },
      (row) => parseRow(jobSchema, row, "job"),
    );
  }

  async saveCheckpoint(
    tenantId: string,
    integrationId: string,
    jobId: string,
    state: unknown,
  ): Promise<{ chunks: number }> {
    // Chunks expire with their job in case the sync dies before deleting them.
    const expiresAt = Math.floor(Date.now() / 1000) + JOB_RETENTION_SECONDS;
    const { chunks } = await this.blobs.write(this.checkpoint(tenantId, integrationId, jobId), state, { expiresAt });
    return { chunks };
  }

  /**
   * The checkpoint saved in `chunks` chunks (undefined for 0). NotFoundError when it is missing or torn (a save that
   * crashed half-way): the caller then restarts the sync, which is safe because nothing was deleted yet.
   */
  async loadCheckpoint(tenantId: string, integrationId: string, jobId: string, chunks: number): Promise<unknown> {
    if (chunks === 0) return undefined;
    const blob = await this.blobs.read(this.checkpoint(tenantId, integrationId, jobId), chunks, { consistent: true });
    if (blob === undefined) throw new NotFoundError(`No checkpoint for job ${jobId}`, { jobId, chunks });
    return blob.value;
  }

  /** Deletes every checkpoint chunk of the job, including leftovers of an earlier, longer checkpoint. */
  async deleteCheckpoint(tenantId: string, integrationId: string, jobId: string, _chunks: number): Promise<void> {
    await this.blobs.deleteAll(this.checkpoint(tenantId, integrationId, jobId));
  }

  private checkpoint(tenantId: string, integrationId: string, jobId: string): BlobLocation {
    return {
      chunkKey: (n) => keys.checkpointChunk(tenantId, integrationId, jobId, n),
      prefix: keys.checkpointPrefix(jobId),
      entity: "checkpoint",
    };
  }

  private async checkUnchanged(
    tenantId: string,
    integrationId: string,
    jobId: string,
    expectStatus: JobStatus[] | undefined,
  ): Promise<Job> {
    const current = await this.get(tenantId, integrationId, jobId);
    if (!current) throw new NotFoundError(`Job ${jobId} not found`, { jobId });
    if (expectStatus !== undefined && !expectStatus.includes(current.status)) {
      throw new ConflictError(`Job ${jobId} is ${current.status}, expected ${expectStatus.join(" or ")}`, {
        jobId,
        status: current.status,
      });
    }
    return current;
  }
}
