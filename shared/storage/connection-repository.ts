/** Connections enrolled for syncing: one row per (integration, connection); revoking keeps the row as a tombstone. */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { ConflictError, NotFoundError } from "../domain/errors.js";
import { type Connection, connectionSchema } from "../domain/index.js";
import { isConditionFailed } from "./ddb.js";
import { integrationPk, keys } from "./keys.js";
import type { ConnectionRepository } from "./ports.js";
import { parseRow, queryPrefix, UpdateBuilder } from "./rows.js";
import { registerIntegrationRow } from "./tenant-repository.js";

export class DynamoConnectionRepository implements ConnectionRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Creates the connection, or re-activates a revoked one with a fresh enrolledAt. Enrolling an active connection
   * changes nothing and returns it.
   */
  async enroll(tenantId: string, integrationId: string, connectionId: string, now: number): Promise<Connection> {
    const at = iso(now);
    const key = keys.connection(tenantId, integrationId, connectionId);
    await registerIntegrationRow(this.doc, this.tableName, tenantId, integrationId, now);
    const update = new UpdateBuilder()
      .setAll({ entity: "connection", tenantId, integrationId, connectionId })
      .setAll({ status: "active", enrolledAt: at, updatedAt: at })
      .remove("revokedAt");
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update.updateExpression,
          ConditionExpression: `attribute_not_exists(PK) OR ${update.n("status")} <> ${update.v("active")}`,
          ReturnValues: "ALL_NEW",
          ...update.attributes,
        }),
      );
      return parseRow(connectionSchema, result.Attributes ?? {}, "connection");
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const current = await this.get(tenantId, integrationId, connectionId);
    if (!current)
      throw new ConflictError(`Connection ${connectionId} changed while enrolling; retry`, { connectionId });
    return current;
  }

  /** Marks it revoked (idempotent: the first revokedAt stays). NotFoundError when it was never enrolled. */
  async revoke(tenantId: string, integrationId: string, connectionId: string, now: number): Promise<Connection> {
    const update = new UpdateBuilder().setAll({ status: "revoked", updatedAt: iso(now) });
    update.setExpression("revokedAt", `if_not_exists(${update.n("revokedAt")}, ${update.v(iso(now))})`);
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.connection(tenantId, integrationId, connectionId),
          UpdateExpression: update.updateExpression,
          ConditionExpression: "attribute_exists(PK)",
          ReturnValues: "ALL_NEW",
          ...update.attributes,
        }),
      );
      return parseRow(connectionSchema, result.Attributes ?? {}, "connection");
    } catch (error) {
      if (isConditionFailed(error)) throw new NotFoundError(`Connection ${connectionId} not found`, { connectionId });
      throw error;
    }
  }

  /** Records whether it is the integration's primary connection. NotFoundError when it was never enrolled. */
  async setPrimary(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    isPrimary: boolean,
    now: number,
  ): Promise<void> {
    await this.setGatewayState(tenantId, integrationId, connectionId, { isPrimary }, now);
  }

  async setGatewayState(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    state: Pick<Connection, "isPrimary" | "gatewayStatus" | "origin">,
    now: number,
  ): Promise<void> {
    const update = new UpdateBuilder().setAll({ ...state, updatedAt: iso(now) });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.connection(tenantId, integrationId, connectionId),
          UpdateExpression: update.updateExpression,
          ConditionExpression: "attribute_exists(PK)",
          ...update.attributes,
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new NotFoundError(`Connection ${connectionId} not found`, { connectionId });
      throw error;
    }
  }

  async updateSettings(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    settings: { paused?: boolean; ttlSeconds?: number | null },
    now: number,
  ): Promise<Connection> {
    const update = new UpdateBuilder().set("updatedAt", iso(now));
    if (settings.paused === true) update.set("paused", true);
    if (settings.paused === false) update.remove("paused");
    if (typeof settings.ttlSeconds === "number") update.set("ttlSeconds", settings.ttlSeconds);
    if (settings.ttlSeconds === null) update.remove("ttlSeconds");
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.connection(tenantId, integrationId, connectionId),
          UpdateExpression: update.updateExpression,
          ConditionExpression: `attribute_exists(PK) AND ${update.n("status")} = ${update.v("active")}`,
          ReturnValues: "ALL_NEW",
          ...update.attributes,
        }),
      );
      return parseRow(connectionSchema, result.Attributes ?? {}, "connection");
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const current = await this.get(tenantId, integrationId, connectionId);
      if (!current) throw new NotFoundError(`Connection ${connectionId} not found`, { connectionId });
      throw new ConflictError(`Connection ${connectionId} is revoked; enroll it again first`, { connectionId });
    }
  }

  async get(tenantId: string, integrationId: string, connectionId: string): Promise<Connection | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.connection(tenantId, integrationId, connectionId),
        ConsistentRead: true,
      }),
    );
    return result.Item ? parseRow(connectionSchema, result.Item, "connection") : undefined;
  }

  async list(tenantId: string, integrationId: string): Promise<Connection[]> {
    const connections: Connection[] = [];
    const query = { pk: integrationPk(tenantId, integrationId), prefix: keys.connectionPrefix };
    for await (const row of queryPrefix(this.doc, this.tableName, query)) {
      connections.push(parseRow(connectionSchema, row, "connection"));
    }
    return connections;
  }
}
