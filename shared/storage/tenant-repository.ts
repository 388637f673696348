/**
 * Tenant-level rows under `T#{t}`: the tenant's encrypted Waygate API key (GWKEY). Also the write that makes sure a
 * tenant's integration has its `INTEG#{i}` row (the quotas' usage row) whenever a source is saved or a connection
 * enrolled by any path, so tenant-wide work (pausing a tenant whose key was refused, resuming it after a new key,
 * discovery retiring integrations) finds every integration without a Scan.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { type GatewayCredentials, gatewayCredentialsSchema } from "../domain/entities.js";
import { isConditionFailed } from "./ddb.js";
import { keys } from "./keys.js";
import type { TenantRepository } from "./ports.js";
import { parseRow, UpdateBuilder } from "./rows.js";

export class DynamoTenantRepository implements TenantRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putCredentials(
    tenantId: string,
    input: { ciphertext: string; version: string; keyHint: string; now: number },
  ): Promise<GatewayCredentials> {
    const at = iso(input.now);
    const credentials: GatewayCredentials = {
      tenantId,
      ciphertext: input.ciphertext,
      version: input.version,
      keyHint: input.keyHint,
      status: "valid",
      verifiedAt: at,
      updatedAt: at,
    };
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.gatewayCredentials(tenantId), entity: "gatewayCredentials", ...credentials },
      }),
    );
    return credentials;
  }

  async getCredentials(tenantId: string): Promise<GatewayCredentials | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.gatewayCredentials(tenantId), ConsistentRead: true }),
    );
    return result.Item ? parseRow(gatewayCredentialsSchema, result.Item, "gateway credentials") : undefined;
  }

  async deleteCredentials(tenantId: string): Promise<boolean> {
    const result = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: keys.gatewayCredentials(tenantId),
        ReturnValues: "ALL_OLD",
      }),
    );
    return result.Attributes !== undefined;
  }

  async markCredentialsInvalid(tenantId: string, version: string, now: number): Promise<boolean> {
    const update = new UpdateBuilder().setAll({ status: "invalid", invalidAt: iso(now), updatedAt: iso(now) });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.gatewayCredentials(tenantId),
          UpdateExpression: update.updateExpression,
          // Only the key that was refused: a key saved meanwhile stays valid.
          ConditionExpression: `${update.n("version")} = ${update.v(version)}`,
          ...update.attributes,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}

/**
 * Makes sure the integration has its `INTEG#{i}` row, shared by the source and connection repositories. It never
 * touches the counts the quotas keep there (shared/quotas.ts rewrites them after every change).
 */
export async function registerIntegrationRow(
  doc: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  integrationId: string,
  now: number,
): Promise<void> {
  const update = new UpdateBuilder().setAll({ tenantId, integrationId });
  update.setExpression("entity", `if_not_exists(${update.n("entity")}, ${update.v("integrationUsage")})`);
  update.setExpression("updatedAt", `if_not_exists(${update.n("updatedAt")}, ${update.v(iso(now))})`);
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: keys.integrationUsage(tenantId, integrationId),
      UpdateExpression: update.updateExpression,
      ...update.attributes,
    }),
  );
}
