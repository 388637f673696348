/**
 * The tenant's discovery row (`T#{t}` / `DISCOVERY`): status, the last report, and due-index attributes like a
 * partition's, so the planner finds tenants whose discovery is due without a Scan. A `queued` or `running` row sits
 * in the index at its deadline: a lost message or a dead worker brings it back by itself.
 */
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { type DiscoveryCounts, type DiscoveryState, discoveryStateSchema } from "../domain/discovery.js";
import { ConflictError } from "../domain/errors.js";
import { isConditionFailed } from "./ddb.js";
import { DISCOVERY_DUE_PK, keys, tenantFromDiscoveryDueSk } from "./keys.js";
import type { DiscoveryDueEntry, DiscoveryRepository, Page, PageKey } from "./ports.js";
import { checkLimit, checkStartKey, parseRow, UpdateBuilder } from "./rows.js";
import { TABLE_DEFINITION } from "./table.js";

const DUE_SK_UPPER = "#~";

export class DynamoDiscoveryRepository implements DiscoveryRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string): Promise<DiscoveryState | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.discovery(tenantId), ConsistentRead: true }),
    );
    return result.Item ? parseRow(discoveryStateSchema, result.Item, "discovery") : undefined;
  }

  async request(
    tenantId: string,
    input: { runId: string; now: number; deadline: number; expectedDueSk?: string },
  ): Promise<{ queued: boolean; state: DiscoveryState }> {
    const deadline = iso(input.deadline);
    const update = new UpdateBuilder()
      .setAll({ entity: "discovery", tenantId, status: "queued", runId: input.runId, deadlineAt: deadline })
      .set("updatedAt", iso(input.now))
      .setAll(keys.discoveryDue(tenantId, deadline));
    const s = update.n("status");
    const condition =
      input.expectedDueSk !== undefined
        ? `${update.n("GSI1SK")} = ${update.v(input.expectedDueSk)}`
        : `attribute_not_exists(PK) OR NOT ${s} IN (${update.v("queued")}, ${update.v("running")}) OR ` +
          `${update.n("deadlineAt")} < ${update.v(iso(input.now))}`;
    try {
      const state = await this.send(tenantId, update, condition);
      return { queued: true, state };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const current = await this.get(tenantId);
    if (!current) throw new ConflictError("Discovery row vanished while queueing; retry", { tenantId });
    return { queued: false, state: current };
  }

  async start(tenantId: string, input: { runId: string; now: number; deadline: number }): Promise<boolean> {
    const deadline = iso(input.deadline);
    const update = new UpdateBuilder()
      .setAll({ status: "running", deadlineAt: deadline, updatedAt: iso(input.now) })
      .setAll(keys.discoveryDue(tenantId, deadline));
    const condition = `${update.n("runId")} = ${update.v(input.runId)} AND ${update.n("status")} IN (${update.v(
      "queued",
    )}, ${update.v("running")})`;
    try {
      await this.send(tenantId, update, condition);
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async finish(
    tenantId: string,
    input: {
      runId: string;
      now: number;
      status: "completed" | "failed";
      report: DiscoveryCounts;
      error?: { code: string; message: string };
      /** Next scheduled run; undefined takes the row out of the due index (no credentials). */
      nextRunAt?: number;
    },
  ): Promise<void> {
    const update = new UpdateBuilder()
      .setAll({ status: input.status, report: input.report, lastRunAt: iso(input.now), updatedAt: iso(input.now) })
      .remove("deadlineAt");
    if (input.error) update.set("error", input.error);
    else update.remove("error");
    if (input.nextRunAt !== undefined) {
      update.set("nextRunAt", iso(input.nextRunAt)).setAll(keys.discoveryDue(tenantId, iso(input.nextRunAt)));
    } else {
      update.remove("nextRunAt", "GSI1PK", "GSI1SK");
    }
    try {
      await this.send(tenantId, update, `${update.n("runId")} = ${update.v(input.runId)}`);
    } catch (error) {
      if (isConditionFailed(error)) throw new ConflictError("Discovery run was superseded", { tenantId });
      throw error;
    }
  }

  async unschedule(tenantId: string, now: number): Promise<void> {
    const update = new UpdateBuilder().set("updatedAt", iso(now)).remove("GSI1PK", "GSI1SK", "nextRunAt");
    try {
      await this.send(tenantId, update, "attribute_exists(PK)");
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async queryDue(untilIso: string, page: { limit: number; startKey?: PageKey }): Promise<Page<DiscoveryDueEntry>> {
    const startKey = checkStartKey(page.startKey, { GSI1PK: DISCOVERY_DUE_PK }, ["GSI1SK", "PK", "SK"]);
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_DEFINITION.dueIndex.name,
        KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :until",
        ExpressionAttributeValues: { ":pk": DISCOVERY_DUE_PK, ":until": `${untilIso}${DUE_SK_UPPER}` },
        ProjectionExpression: "GSI1SK, #status",
        ExpressionAttributeNames: { "#status": "status" },
        Limit: checkLimit(page.limit),
        ExclusiveStartKey: startKey,
      }),
    );
    const items = (result.Items ?? []).map((row): DiscoveryDueEntry => {
      const dueSk = String(row.GSI1SK);
      const status = parseRow(discoveryStateSchema.pick({ status: true }), row, "discovery due entry").status;
      return { tenantId: tenantFromDiscoveryDueSk(dueSk), dueSk, dueAt: dueSk.slice(0, dueSk.indexOf("#")), status };
    });
    return result.LastEvaluatedKey ? { items, nextKey: result.LastEvaluatedKey } : { items };
  }

  private async send(tenantId: string, update: UpdateBuilder, condition: string): Promise<DiscoveryState> {
    const result = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.discovery(tenantId),
        UpdateExpression: update.updateExpression,
        ConditionExpression: condition,
        ReturnValues: "ALL_NEW",
        ...update.attributes,
      }),
    );
    return parseRow(discoveryStateSchema, result.Attributes ?? {}, "discovery");
  }
}
