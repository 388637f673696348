/** The tenant's configured integrations and their counts, for the quotas (shared/quotas.ts). */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { keys } from "./keys.js";
import type { IntegrationUsage, UsageRepository } from "./ports.js";
import { queryPrefix } from "./rows.js";

export class DynamoUsageRepository implements UsageRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async listIntegrations(tenantId: string): Promise<IntegrationUsage[]> {
    const result: IntegrationUsage[] = [];
    const pk = keys.integrationUsage(tenantId, "x").PK;
    for await (const row of queryPrefix(this.doc, this.tableName, { pk, prefix: keys.integrationUsagePrefix })) {
      if (typeof row.integrationId !== "string") continue;
      result.push({
        integrationId: row.integrationId,
        sources: typeof row.sources === "number" ? row.sources : 0,
        connections: typeof row.connections === "number" ? row.connections : 0,
        updatedAt: typeof row.updatedAt === "string" ? row.updatedAt : "",
      });
    }
    return result;
  }

  async recordIntegration(
    tenantId: string,
    integrationId: string,
    usage: { sources: number; connections: number } | undefined,
    now: number,
  ): Promise<void> {
    const Key = keys.integrationUsage(tenantId, integrationId);
    if (usage === undefined) {
      await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key }));
      return;
    }
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...Key, entity: "integrationUsage", tenantId, integrationId, ...usage, updatedAt: iso(now) },
      }),
    );
  }
}
