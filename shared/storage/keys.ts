/**
 * The only place keys are built. Every tenant key starts with `T#{tenantId}`; IDs are validated here, so a `#` in an
 * ID can never forge another tenant's or entity's key.
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../domain/errors.js";
import { ID_PATTERN, MAX_EXTERNAL_ID_LENGTH } from "../domain/id-rules.js";
import type { PartitionRef } from "../domain/ids.js";
import { TABLE_DEFINITION } from "./table.js";

export interface Key {
  PK: string;
  SK: string;
}

function id(value: string, what: string): string {
  if (!ID_PATTERN.test(value)) throw new ValidationError(`Invalid ${what} '${value.slice(0, 140)}'`, { field: what });
  return value;
}

function externalId(value: string): string {
  if (value.length === 0 || value.length > MAX_EXTERNAL_ID_LENGTH) {
    throw new ValidationError(`External ID must be 1-${MAX_EXTERNAL_ID_LENGTH} characters`, { field: "externalId" });
  }
  return value;
}

const tenant = (t: string) => `T#${id(t, "tenantId")}`;
const integration = (t: string, i: string) => `${tenant(t)}#I#${id(i, "integrationId")}`;

/** PK of everything that belongs to one integration of a tenant (sources, connections, partitions, jobs). */
export const integrationPk = integration;

/** PK of a partition's items, object chunks and manifest chunks. */
export function dataPk(ref: PartitionRef): string {
  return `${integration(ref.tenantId, ref.integrationId)}#C#${id(ref.connectionId, "connectionId")}#D#${id(ref.dataType, "dataType")}`;
}

export const keys = {
  source: (t: string, i: string, dataType: string): Key => ({
    PK: integration(t, i),
    SK: `SRC#${id(dataType, "dataType")}`,
  }),
  sourcePrefix: "SRC#",
  connection: (t: string, i: string, c: string): Key => ({
    PK: integration(t, i),
    SK: `CONN#${id(c, "connectionId")}`,
  }),
  connectionPrefix: "CONN#",
  partition: (ref: PartitionRef): Key => ({
    PK: integration(ref.tenantId, ref.integrationId),
    SK: `PART#${id(ref.connectionId, "connectionId")}#${id(ref.dataType, "dataType")}`,
  }),
  /** SK prefix of all partitions of an integration, or of one connection's partitions. */
  partitionPrefix: (connectionId?: string): string =>
    connectionId === undefined ? "PART#" : `PART#${id(connectionId, "connectionId")}#`,
  item: (ref: PartitionRef, extId: string): Key => ({ PK: dataPk(ref), SK: `ITEM#${externalId(extId)}` }),
  itemPrefix: "ITEM#",
  objectChunk: (ref: PartitionRef, version: number, n: number): Key => ({
    PK: dataPk(ref),
    SK: `OBJ#${pad(version)}#${pad(n, 4)}`,
  }),
  objectPrefix: (version: number): string => `OBJ#${pad(version)}#`,
  manifestChunk: (ref: PartitionRef, version: number, n: number): Key => ({
    PK: dataPk(ref),
    SK: `MAN#${pad(version)}#${pad(n, 4)}`,
  }),
  manifestPrefix: (version: number): string => `MAN#${pad(version)}#`,
  /** A chunk of the lookup index snapshot of a committed version; `indexSnapshotPrefix()` spans every version. */
  indexSnapshotChunk: (ref: PartitionRef, version: number, n: number): Key => ({
    PK: dataPk(ref),
    SK: `IDX#${pad(version)}#${pad(n, 4)}`,
  }),
  indexSnapshotPrefix: (version?: number): string => (version === undefined ? "IDX#" : `IDX#${pad(version)}#`),
  /** A small row beside the chunks naming the settings the snapshot was built with (checked without reading a chunk). */
  indexSnapshotSettings: (ref: PartitionRef, version: number): Key => ({
    PK: dataPk(ref),
    SK: `IDX#${pad(version)}#SETTINGS`,
  }),
  job: (t: string, i: string, jobId: string): Key => ({ PK: integration(t, i), SK: `JOB#${jobIdOf(jobId)}` }),
  jobPrefix: "JOB#",
  checkpointChunk: (t: string, i: string, jobId: string, n: number): Key => ({
    PK: integration(t, i),
    SK: `JOB#${jobIdOf(jobId)}#CP#${pad(n, 4)}`,
  }),
  checkpointPrefix: (jobId: string): string => `JOB#${jobIdOf(jobId)}#CP#`,
  /** A change a job staged for the change feed; visible only once the job's commit row exists. */
  change: (ref: PartitionRef, jobId: string, extId: string): Key => ({
    PK: dataPk(ref),
    SK: `CHG#${jobIdOf(jobId)}#${externalId(extId)}`,
  }),
  changePrefix: (jobId: string): string => `CHG#${jobIdOf(jobId)}#`,
  /** One committed data version of a list partition that changed something: which job's staged changes it made visible. */
  commit: (ref: PartitionRef, version: number): Key => ({ PK: dataPk(ref), SK: `CLOG#${pad(version)}` }),
  commitPrefix: "CLOG#",
  /** Every row of a tenant starts with this (API key rows excepted); erasure and purges walk it. */
  tenantPrefix: (t: string): string => `${tenant(t)}#`,
  tenantPk: (t: string): string => tenant(t),
  /** The tenant's webhook and its erasure progress. */
  webhook: (t: string): Key => ({ PK: tenant(t), SK: "WEBHOOK" }),
  erasure: (t: string): Key => ({ PK: tenant(t), SK: "ERASURE" }),
  apiKey: (keyHash: string): Key => ({ PK: `KEY#${keyHash}`, SK: "KEY" }),
  apiKeyListing: (t: string, keyId: string): Key => ({ PK: tenant(t), SK: `APIKEY#${id(keyId, "keyId")}` }),
  apiKeyListingPrefix: "APIKEY#",
  /**
   * GSI1 attributes on an API key row, so revoke can find the row from the tenant and keyId: the listing row must
   * never hold the key's hash. Tenant-prefixed, so it never collides with the `DUE#` shards the planner queries.
   */
  apiKeyRef: (t: string, keyId: string): { GSI1PK: string; GSI1SK: string } => ({
    GSI1PK: `${tenant(t)}#APIKEY#${id(keyId, "keyId")}`,
    GSI1SK: "KEY",
  }),
  /** A tenant's record of one configured integration and its counts (quotas). */
  integrationUsage: (t: string, i: string): Key => ({ PK: tenant(t), SK: `INTEG#${id(i, "integrationId")}` }),
  integrationUsagePrefix: "INTEG#",
  /** The tenant's Waygate API key (encrypted). */
  gatewayCredentials: (t: string): Key => ({ PK: tenant(t), SK: "GWKEY" }),
  /** The tenant's discovery state and last report. */
  discovery: (t: string): Key => ({ PK: tenant(t), SK: "DISCOVERY" }),
  /**
   * Due-index attributes of a tenant's discovery row: one index partition for every tenant's discovery (a discovery
   * run is rare next to partition syncs, so one Query per planner run reads them all), sorted by due time.
   */
  discoveryDue: (t: string, dueAt: string): { GSI1PK: string; GSI1SK: string } => ({
    GSI1PK: DISCOVERY_DUE_PK,
    GSI1SK: `${dueAt}#${id(t, "tenantId")}`,
  }),
  /** Due-index attributes of a schedulable partition: shard by hash, sort by due time. */
  due: (ref: PartitionRef, dueAt: string): { GSI1PK: string; GSI1SK: string } => ({
    GSI1PK: duePk(dueShard(ref)),
    GSI1SK: `${dueAt}#${partitionKeyId(ref)}`,
  }),
  /**
   * Paused-index attributes of a paused partition: the due index's shard, sorted by reason, so the planner counts the
   * paused partitions of each reason from the keys alone.
   */
  paused: (ref: PartitionRef, reason: string): { GSI2PK: string; GSI2SK: string } => ({
    GSI2PK: pausedPk(dueShard(ref)),
    GSI2SK: `${id(reason, "pauseReason")}#${partitionKeyId(ref)}`,
  }),
};

export const duePk = (shard: number): string => `DUE#${pad(shard, 2)}`;
export const pausedPk = (shard: number): string => `PAUSED#${pad(shard, 2)}`;

/** Reads the pause reason back out of a paused-index sort key. */
export function pauseReasonFromPausedSk(gsi2sk: string): string {
  const reason = gsi2sk.slice(0, gsi2sk.indexOf("#"));
  if (!reason || !ID_PATTERN.test(reason)) throw new ValidationError(`Malformed paused-index key '${gsi2sk}'`);
  return reason;
}
export const DISCOVERY_DUE_PK = "DUE#DISCOVERY";

/** Reads the tenant back out of a discovery due-index sort key. */
export function tenantFromDiscoveryDueSk(gsi1sk: string): string {
  const parts = gsi1sk.split("#");
  const tenantId = parts[1];
  if (parts.length !== 2 || !tenantId || !ID_PATTERN.test(tenantId)) {
    throw new ValidationError(`Malformed discovery due-index key '${gsi1sk}'`);
  }
  return tenantId;
}

/** Which due shard a partition lives on: a stable hash of the partition, mod the shard count. */
export function dueShard(ref: PartitionRef): number {
  const digest = createHash("sha1").update(partitionKeyId(ref)).digest();
  return digest.readUInt32BE(0) % TABLE_DEFINITION.dueShards;
}

function partitionKeyId(ref: PartitionRef): string {
  return `${id(ref.tenantId, "tenantId")}#${id(ref.integrationId, "integrationId")}#${id(ref.connectionId, "connectionId")}#${id(ref.dataType, "dataType")}`;
}

/** Reads the partition back out of a due-index sort key. */
export function partitionRefFromDueSk(gsi1sk: string): PartitionRef {
  const parts = gsi1sk.split("#");
  const [tenantId, integrationId, connectionId, dataType] = parts.slice(1);
  if (parts.length !== 5 || !tenantId || !integrationId || !connectionId || !dataType) {
    throw new ValidationError(`Malformed due-index key '${gsi1sk}'`);
  }
  return { tenantId, integrationId, connectionId, dataType };
}

function jobIdOf(jobId: string): string {
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(jobId)) throw new ValidationError(`Invalid jobId '${jobId.slice(0, 80)}'`);
  return jobId;
}

function pad(n: number, width = 10): string {
  return String(n).padStart(width, "0");
}

/** SHA-256 of a presented API key, hex. Only the hash is stored. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
