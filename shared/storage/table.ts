/**
 * The one DynamoDB table, described once for the CDK stack, the local stack and the tests.
 *
 * Key layout (built only in keys.ts):
 *   source            PK T#{t}#I#{i}                    SK SRC#{dataType}
 *   connection        PK T#{t}#I#{i}                    SK CONN#{c}
 *   partition state   PK T#{t}#I#{i}                    SK PART#{c}#{dataType}
 *   item              PK T#{t}#I#{i}#C#{c}#D#{dataType} SK ITEM#{externalId}
 *   object chunk      PK T#{t}#I#{i}#C#{c}#D#{dataType} SK OBJ#{version}#{n}
 *   manifest chunk    PK T#{t}#I#{i}#C#{c}#D#{dataType} SK MAN#{version}#{n}
 *   job               PK T#{t}#I#{i}                    SK JOB#{jobId}          (TTL expiresAt)
 *   (inactive and deleted items also carry expiresAt: INACTIVE_RETENTION_DAYS after the transition)
 *   job checkpoint    PK T#{t}#I#{i}                    SK JOB#{jobId}#CP#{n}
 *   staged change     PK T#{t}#I#{i}#C#{c}#D#{dataType} SK CHG#{jobId}#{externalId}  (TTL expiresAt)
 *   commit log        PK T#{t}#I#{i}#C#{c}#D#{dataType} SK CLOG#{version}          (TTL expiresAt)
 *   webhook           PK T#{t}                          SK WEBHOOK
 *   erasure progress  PK T#{t}                          SK ERASURE
 *   API key           PK KEY#{sha256}                   SK KEY
 *   API key listing   PK T#{t}                          SK APIKEY#{keyId}
 *   integration usage PK T#{t}                          SK INTEG#{i}            (quota counts; every configured integration)
 *   gateway key       PK T#{t}                          SK GWKEY                (encrypted Waygate API key)
 *   discovery state   PK T#{t}                          SK DISCOVERY
 *   due index (GSI1)  GSI1PK DUE#{shard}                GSI1SK {ISO time}#{partition id}   (sparse)
 *                     GSI1PK DUE#DISCOVERY              GSI1SK {ISO time}#{tenantId}       (discovery rows)
 *   paused index (GSI2) GSI2PK PAUSED#{shard}           GSI2SK {pauseReason}#{partition id} (sparse, keys only:
 *                     paused partitions, same shard as the due index; the planner's PartitionsPaused gauge)
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

export const TABLE_DEFINITION = {
  partitionKey: "PK",
  sortKey: "SK",
  ttlAttribute: "expiresAt",
  dueIndex: { name: "GSI1", partitionKey: "GSI1PK", sortKey: "GSI1SK" },
  /** Paused partitions only, keys only: the planner counts them by reason (shared/sync/paused-gauge.ts). */
  pausedIndex: { name: "GSI2", partitionKey: "GSI2PK", sortKey: "GSI2SK" },
  /** Number of due-index shards; the planner queries each. The paused index uses the same shards. */
  dueShards: 16,
} as const;

/** CreateTable input for dynalite and tests; the CDK stack builds the same table from TABLE_DEFINITION. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, dueIndex, pausedIndex } = TABLE_DEFINITION;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" },
      { AttributeName: sortKey, AttributeType: "S" },
      { AttributeName: dueIndex.partitionKey, AttributeType: "S" },
      { AttributeName: dueIndex.sortKey, AttributeType: "S" },
      { AttributeName: pausedIndex.partitionKey, AttributeType: "S" },
      { AttributeName: pausedIndex.sortKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" },
      { AttributeName: sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: dueIndex.name,
        KeySchema: [
          { AttributeName: dueIndex.partitionKey, KeyType: "HASH" },
          { AttributeName: dueIndex.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: pausedIndex.name,
        KeySchema: [
          { AttributeName: pausedIndex.partitionKey, KeyType: "HASH" },
          { AttributeName: pausedIndex.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "KEYS_ONLY" },
      },
    ],
  };
}
