/** Sources: how each dataType of an integration is fetched. Validated when saved, never discovered broken at sync time. */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { iso } from "../domain/clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../domain/errors.js";
import { dataTypeSchema, type Source, type SourceInput, sourceInputSchema, sourceSchema } from "../domain/index.js";
import { parseOrThrow } from "../domain/validate.js";
import { isConditionFailed } from "./ddb.js";
import { integrationPk, keys } from "./keys.js";
import type { SourceMeta, SourceRepository } from "./ports.js";
import { parseRow, queryPrefix } from "./rows.js";
import { registerIntegrationRow } from "./tenant-repository.js";

export class DynamoSourceRepository implements SourceRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Validates and saves the source. The write is conditional on the revision read just before it, so two concurrent
   * saves never silently overwrite each other: the loser re-reads once, then gives up with a ConflictError.
   */
  async put(
    tenantId: string,
    integrationId: string,
    dataType: string,
    input: SourceInput,
    now: number,
    meta: SourceMeta = { origin: "manual" },
  ): Promise<Source> {
    parseOrThrow(dataTypeSchema, dataType, "dataType", "dataType");
    const parsed = parseOrThrow(sourceInputSchema, input, "source");
    if (parsed.referenceData.dataType !== dataType) {
      throw new ValidationError(
        `Invalid source: referenceData.dataType '${parsed.referenceData.dataType}' does not match the path's '${dataType}'`,
        { issues: [{ field: "referenceData.dataType", message: `must equal '${dataType}'` }] },
      );
    }
    const key = keys.source(tenantId, integrationId, dataType);
    await registerIntegrationRow(this.doc, this.tableName, tenantId, integrationId, now);
    for (let attempt = 1; ; attempt++) {
      const previous = await this.get(tenantId, integrationId, dataType);
      const source: Source = {
        tenantId,
        integrationId,
        dataType,
        integrationSlug: parsed.integrationSlug,
        actionSlug: parsed.actionSlug,
        referenceData: parsed.referenceData,
        origin: meta.origin,
        ...(meta.extensions === undefined ? {} : { extensions: meta.extensions }),
        ...(meta.discoveredConfig === undefined ? {} : { discoveredConfig: meta.discoveredConfig }),
        revision: (previous?.revision ?? 0) + 1,
        createdAt: previous?.createdAt ?? iso(now),
        updatedAt: iso(now),
      };
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...key, entity: "source", ...source },
            ...(previous
              ? {
                  ConditionExpression: "#revision = :revision",
                  ExpressionAttributeNames: { "#revision": "revision" },
                  ExpressionAttributeValues: { ":revision": previous.revision },
                }
              : { ConditionExpression: "attribute_not_exists(PK)" }),
          }),
        );
        return source;
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        if (attempt >= 2) {
          throw new ConflictError(`Source ${dataType} was changed concurrently; retry`, { dataType });
        }
      }
    }
  }

  async get(tenantId: string, integrationId: string, dataType: string): Promise<Source | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.source(tenantId, integrationId, dataType),
        ConsistentRead: true,
      }),
    );
    return result.Item ? parseRow(sourceSchema, result.Item, "source") : undefined;
  }

  async list(tenantId: string, integrationId: string): Promise<Source[]> {
    const sources: Source[] = [];
    const query = { pk: integrationPk(tenantId, integrationId), prefix: keys.sourcePrefix };
    for await (const row of queryPrefix(this.doc, this.tableName, query))
      sources.push(parseRow(sourceSchema, row, "source"));
    return sources;
  }

  async delete(tenantId: string, integrationId: string, dataType: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.source(tenantId, integrationId, dataType),
          ConditionExpression: "attribute_exists(PK)",
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new NotFoundError(`Source ${dataType} not found`, { dataType });
      throw error;
    }
  }
}
