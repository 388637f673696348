/**
 * Repository ports: what the sync engine, the planner and the API handlers need from storage. The DynamoDB
 * implementations live beside this file; unit tests may pass in-memory fakes. Every method validates its IDs through
 * keys.ts (a bad ID is a ValidationError) and turns a failed condition into a ConflictError, never a raw
 * ConditionalCheckFailedException.
 */
import type {
  ApiKey,
  ApiKeyScope,
  Connection,
  DiscoveryCounts,
  DiscoveryState,
  GatewayCredentials,
  Item,
  ItemStatus,
  Job,
  JobError,
  JobStatus,
  Partition,
  PartitionRef,
  PartitionStatus,
  PauseReason,
  Source,
  SourceInput,
  StoredObject,
} from "../domain/index.js";
import type { ChangeRepository } from "./change-repository.js";

/** An opaque DynamoDB paging key; the HTTP layer signs it into a cursor. */
export type PageKey = Record<string, unknown>;

export interface Page<T> {
  items: T[];
  /** Present when more rows may follow. */
  nextKey?: PageKey;
}

export interface SourceRepository {
  /**
   * Creates or replaces a source; `revision` is 1 on create and previous + 1 on replace. `origin` defaults to manual;
   * a discovered source keeps its `discoveredConfig` and `extensions`.
   */
  put(
    tenantId: string,
    integrationId: string,
    dataType: string,
    input: SourceInput,
    now: number,
    meta?: SourceMeta,
  ): Promise<Source>;
  get(tenantId: string, integrationId: string, dataType: string): Promise<Source | undefined>;
  list(tenantId: string, integrationId: string): Promise<Source[]>;
  /** NotFoundError when absent. */
  delete(tenantId: string, integrationId: string, dataType: string): Promise<void>;
}

export interface SourceMeta {
  origin: "manual" | "discovered";
  extensions?: Record<string, unknown>;
  discoveredConfig?: Record<string, unknown>;
}

export interface ConnectionRepository {
  /** Records what discovery saw of the connection in Waygate (primary, status, origin). NotFoundError when absent. */
  setGatewayState(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    state: Pick<Connection, "isPrimary" | "gatewayStatus" | "origin">,
    now: number,
  ): Promise<void>;
  /** Creates the connection or re-activates a revoked one. */
  enroll(tenantId: string, integrationId: string, connectionId: string, now: number): Promise<Connection>;
  /** Marks it revoked; NotFoundError when it was never enrolled. */
  revoke(tenantId: string, integrationId: string, connectionId: string, now: number): Promise<Connection>;
  /** Records whether it is the integration's primary connection; NotFoundError when it was never enrolled. */
  setPrimary(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    isPrimary: boolean,
    now: number,
  ): Promise<void>;
  get(tenantId: string, integrationId: string, connectionId: string): Promise<Connection | undefined>;
  list(tenantId: string, integrationId: string): Promise<Connection[]>;
  /** PATCH: `paused`, `ttlSeconds` (null clears). NotFoundError when absent, ConflictError when revoked. */
  updateSettings(
    tenantId: string,
    integrationId: string,
    connectionId: string,
    settings: { paused?: boolean; ttlSeconds?: number | null },
    now: number,
  ): Promise<Connection>;
}

/** A due-index entry as the planner sees it. */
export interface DueEntry {
  ref: PartitionRef;
  status: PartitionStatus;
  /** The exact GSI1SK observed: the planner claims on it, so two planners never both win. */
  dueSk: string;
  dueAt: string;
  currentJobId?: string;
}

export interface ClaimInput {
  jobId: string;
  now: number;
  /** When a queued partition whose message was lost comes back through the due index. */
  requeueDeadline: number;
  /**
   * Planner: claim only if the due-index key is still exactly this (`GSI1SK = :sk`).
   * Without it (trigger endpoint, external messages): claim if status is idle or failed, or if a queued/syncing
   * partition's deadline has passed. A paused partition is never claimed: enrolling the connection again or saving
   * the source resumes it (the ConflictError's `details.reason` is then "paused").
   */
  expectedDueSk?: string;
  /** Manual trigger: also require `lastManualTriggerAt` older than now - minIntervalMs, and stamp it. */
  manualMinIntervalMs?: number;
}

export interface LeaseInput {
  jobId: string;
  owner: string;
  now: number;
  leaseMs: number;
}

export interface SuccessInput {
  jobId: string;
  owner: string;
  now: number;
  nextSyncAt: number;
  /** The new committed version and its manifest/object chunk counts. */
  version: number;
  manifestChunks: number;
  objectChunks: number;
  itemCount: number;
  /** Every item of the committed manifest, whatever its status (default: itemCount). */
  totalCount?: number;
  /** Start of this sync (the next incremental `since` base). */
  startedAt: number;
  full: boolean;
  /** Set when this sync made a new data version: the job whose staged changes it holds (the change feed). */
  dataJobId?: string;
  /** The index snapshot the committed version is served from (Partition.snapshotId); undefined removes it. */
  snapshotId?: string;
}

export interface FailureInput {
  jobId: string;
  owner: string;
  now: number;
  error: JobError;
  /** When to try again (ignored when paused). */
  nextSyncAt: number;
  /** Pause instead of rescheduling: credentials gone or config broken. */
  pause?: PauseReason;
  sourceRevision?: number;
}

export interface PartitionRepository {
  /** Creates an `idle` partition due at `dueAt` (default now); ConflictError when it exists. */
  create(ref: PartitionRef, input: { syncType: "list" | "object"; now: number; dueAt?: number }): Promise<Partition>;
  /**
   * Creates it unless it exists; an existing partition paused for one of `resumeReasons` (default: config,
   * source_deleted, revoked) is resumed (due now). Pass e.g. ["credentials", ...] when a connection is re-enrolled.
   */
  ensure(
    ref: PartitionRef,
    input: { syncType: "list" | "object"; now: number; resumeReasons?: readonly PauseReason[] },
  ): Promise<{ created: boolean }>;
  get(ref: PartitionRef): Promise<Partition | undefined>;
  listByIntegration(
    tenantId: string,
    integrationId: string,
    filter?: { connectionId?: string; dataType?: string },
  ): Promise<Partition[]>;
  /** One Query of one due shard for `GSI1SK <= untilIso` (oldest first). */
  queryDue(shard: number, untilIso: string, page: { limit: number; startKey?: PageKey }): Promise<Page<DueEntry>>;
  /**
   * Paused partitions on one shard of the paused index (GSI2), by reason: a keys-only read of every entry of the
   * shard, page after page (so its cost grows with the number of paused partitions, not of all partitions).
   */
  countPaused(shard: number): Promise<Map<string, number>>;
  /** → `queued` with `currentJobId = jobId`, due-index key at the requeue deadline. ConflictError if not claimable. */
  claim(ref: PartitionRef, input: ClaimInput): Promise<Partition>;
  /**
   * → `syncing` owned by `owner` until now + leaseMs (due-index key at the lease expiry). Requires
   * `currentJobId = jobId` and either `queued`, or `syncing` with the same owner or an expired lease. ConflictError
   * otherwise (another worker holds it, or the message belongs to an older job).
   */
  acquireLease(ref: PartitionRef, input: LeaseInput): Promise<Partition>;
  /** Extends the lease; ConflictError when it was lost (owner or job changed). */
  renewLease(ref: PartitionRef, input: LeaseInput): Promise<void>;
  /** Continuation: `syncing` → `queued` for the same job, deadline at `deadline`; requires the lease. */
  requeue(ref: PartitionRef, input: { jobId: string; owner: string; now: number; deadline: number }): Promise<void>;
  /** → `idle`, due at nextSyncAt, version flipped, failures reset, lease released. Requires the lease. */
  recordSuccess(ref: PartitionRef, input: SuccessInput): Promise<Partition>;
  /** → `failed` due at nextSyncAt (failures + 1), or `paused` with no due-index key. Requires the lease. */
  recordFailure(ref: PartitionRef, input: FailureInput): Promise<Partition>;
  /** → `paused` (no due-index key). NotFoundError when absent. */
  pause(ref: PartitionRef, reason: PauseReason, now: number): Promise<void>;
  /** → `idle`, due now. NotFoundError when absent. */
  resume(ref: PartitionRef, now: number): Promise<void>;
  /**
   * Reindex: a partition paused for `reason` gets its paused-index entry, replacing `seenEntry` (the GSI2SK a Scan
   * read; undefined: it had none, e.g. paused by a version without the index). false when the row is no longer paused
   * for that reason with that entry (a pause or resume since the Scan set the entry itself).
   */
  indexPaused(ref: PartitionRef, reason: PauseReason, seenEntry?: string): Promise<boolean>;
  /**
   * Reindex: a partition that is not paused loses the entry `seenEntry` a version without the index left behind.
   * false when it is paused (again) or its entry changed since the Scan.
   */
  unindexPaused(ref: PartitionRef, seenEntry: string): Promise<boolean>;
  /** An idle or failed partition: due at `nextSyncAt` instead (a TTL override). false when it was in another state. */
  reschedule(ref: PartitionRef, nextSyncAt: number, now: number): Promise<boolean>;
  /**
   * Lifecycle: a partition paused for `revoked`/`source_deleted` gets a due-index entry at `purgeAt`, which the planner
   * turns into a purge message. `expectedDueSk` (the planner) moves it to `purgeAt` only if unchanged since read.
   */
  schedulePurge(ref: PartitionRef, purgeAt: number, expectedDueSk?: string): Promise<boolean>;
  delete(ref: PartitionRef): Promise<void>;
}

/** What a sync diffs against: externalId → content hash and status. */
export interface ManifestEntry {
  hash: string;
  status: ItemStatus;
}
export type Manifest = Map<string, ManifestEntry>;

export interface ItemListFilter {
  /** Default: all statuses. */
  status?: ItemStatus;
  limit: number;
  startKey?: PageKey;
  /** Byte budget of the page (JSON of the rows): the page stops once it passes it, with `nextKey` after its last row. */
  maxBytes?: number;
}

/** What lookup indexes and index-backed listings need of an item. */
export type ItemSummary = Pick<Item, "externalId" | "name" | "lookup" | "metadata" | "status" | "updatedAt">;

/** What the change feed needs of an item whose status setStatus changed. */
export type StatusChangedRow = Pick<Item, "externalId" | "name" | "metadata" | "status">;

export interface ItemRepository {
  /**
   * Writes items with BatchWriteItem, 25 per request, retrying unprocessed items with exponential backoff.
   * Returns how many BatchWriteItem requests were made. ValidationError for an item over 400 KB.
   */
  batchPut(ref: PartitionRef, items: Item[]): Promise<{ requests: number }>;
  /**
   * Sets the status of existing items (inactive/deleted/active), stamping jobId; missing items are skipped. `expiresAt`
   * (epoch seconds) is set on a move out of `active` and removed on a move back. Returns the rows it changed.
   */
  setStatus(
    ref: PartitionRef,
    externalIds: string[],
    status: ItemStatus,
    input: { jobId: string; now: number; expiresAt?: number },
  ): Promise<{ updated: number; rows: StatusChangedRow[] }>;
  get(ref: PartitionRef, externalId: string): Promise<Item | undefined>;
  /**
   * The stored items of these external IDs (BatchGetItem, 100 keys a request), in the order asked; missing ones
   * skipped. `consistent`: strongly consistent reads (twice the read units), for rows just written.
   */
  getMany(ref: PartitionRef, externalIds: readonly string[], options?: { consistent?: boolean }): Promise<Item[]>;
  list(ref: PartitionRef, filter: ItemListFilter): Promise<Page<Item>>;
  /** Every item of a partition (all pages). */
  listAll(ref: PartitionRef): Promise<Item[]>;
  /** Every item of a partition with only the fields of ItemSummary, read with a projection (lookup index builds); `consistent` as for getMany. */
  listSummaries(ref: PartitionRef, options?: { consistent?: boolean }): Promise<ItemSummary[]>;
  /** Hash and status of every item, read with a projection: the fallback when a partition has no manifest. */
  loadHashes(ref: PartitionRef): Promise<Manifest>;
}

/** Gzipped, chunked (≤ 350 KB) blobs: manifests, objects and checkpoints all use it. */
export interface ManifestRepository {
  write(ref: PartitionRef, version: number, manifest: Manifest): Promise<{ chunks: number }>;
  read(ref: PartitionRef, version: number, chunks: number): Promise<Manifest>;
  delete(ref: PartitionRef, version: number, chunks: number): Promise<void>;
}

export interface ObjectRepository {
  write(ref: PartitionRef, version: number, object: unknown): Promise<{ chunks: number; bytes: number }>;
  /** undefined when the version has no chunks. */
  read(ref: PartitionRef, version: number, chunks: number, syncedAt: string): Promise<StoredObject | undefined>;
  delete(ref: PartitionRef, version: number, chunks: number): Promise<void>;
}

export interface NewJob {
  ref: PartitionRef;
  jobId: string;
  trigger: Job["trigger"];
  mode: Job["mode"];
  actionSlug?: string;
  now: number;
}

export type JobPatch = Partial<
  Pick<
    Job,
    | "status"
    | "startedAt"
    | "completedAt"
    | "itemsFound"
    | "itemsCreated"
    | "itemsUpdated"
    | "itemsDeleted"
    | "itemsFailed"
    | "itemsDeactivated"
    | "itemsDuplicate"
    | "pages"
    | "invocations"
    | "error"
    | "warnings"
    | "checkpoint"
    | "mode"
    | "actionSlug"
  >
>;

export interface JobRepository {
  /** Creates a `pending` job with `expiresAt` 90 days out; ConflictError when the jobId exists. */
  create(job: NewJob): Promise<Job>;
  get(tenantId: string, integrationId: string, jobId: string): Promise<Job | undefined>;
  /** Applies the patch; with `expectStatus`, ConflictError unless the job's status is one of them. */
  update(
    tenantId: string,
    integrationId: string,
    jobId: string,
    patch: JobPatch,
    options?: { expectStatus?: JobStatus[]; removeCheckpoint?: boolean },
  ): Promise<Job>;
  /**
   * Marks a `pending` or `syncing` job failed with `error` (completed at `now`) and returns it; a job already finished,
   * or gone, is left alone (undefined). The one way to fail a job someone else started (superseded, paused, settled).
   */
  failIfOpen(
    tenantId: string,
    integrationId: string,
    jobId: string,
    error: JobError,
    now: number,
    options?: { removeCheckpoint?: boolean },
  ): Promise<Job | undefined>;
  /** Newest first. */
  list(
    tenantId: string,
    integrationId: string,
    filter: { connectionId?: string; dataType?: string; status?: JobStatus; limit: number; startKey?: PageKey },
  ): Promise<Page<Job>>;
  /** What a running sync has seen so far, gzipped and chunked under the job. */
  saveCheckpoint(tenantId: string, integrationId: string, jobId: string, state: unknown): Promise<{ chunks: number }>;
  loadCheckpoint(tenantId: string, integrationId: string, jobId: string, chunks: number): Promise<unknown>;
  deleteCheckpoint(tenantId: string, integrationId: string, jobId: string, chunks: number): Promise<void>;
}

export interface ResolvedApiKey {
  tenantId: string;
  keyId: string;
  scopes: ApiKeyScope[];
}

export interface ApiKeyRepository {
  /** Returns the plain key once; only its SHA-256 is stored. */
  create(
    tenantId: string,
    input: { name: string; scopes: ApiKeyScope[]; now: number },
  ): Promise<{ key: string; apiKey: ApiKey }>;
  /** undefined for unknown, revoked or malformed keys. */
  resolve(plainKey: string): Promise<ResolvedApiKey | undefined>;
  list(tenantId: string): Promise<ApiKey[]>;
  /** NotFoundError when absent; ConflictError when already revoked. */
  revoke(tenantId: string, keyId: string, now: number): Promise<void>;
}

/** What the quotas count of one configured integration: syncable sources and active connections. */
export interface IntegrationUsage {
  integrationId: string;
  sources: number;
  connections: number;
  updatedAt: string;
}

/** The tenant's list of configured integrations with their counts (one row each under `T#{t}`). */
export interface UsageRepository {
  listIntegrations(tenantId: string): Promise<IntegrationUsage[]>;
  /** Records the integration's counts; `undefined` removes it (nothing is configured any more). */
  recordIntegration(
    tenantId: string,
    integrationId: string,
    usage: { sources: number; connections: number } | undefined,
    now: number,
  ): Promise<void>;
}

/** The tenant's encrypted Waygate key (one row under `T#{t}`). */
export interface TenantRepository {
  /** Stores (or replaces) the encrypted key, status `valid`. */
  putCredentials(
    tenantId: string,
    input: { ciphertext: string; version: string; keyHint: string; now: number },
  ): Promise<GatewayCredentials>;
  getCredentials(tenantId: string): Promise<GatewayCredentials | undefined>;
  /** True when there was one. */
  deleteCredentials(tenantId: string): Promise<boolean>;
  /** Marks the key `invalid`, only if it is still `version` (a key saved meanwhile stays valid). */
  markCredentialsInvalid(tenantId: string, version: string, now: number): Promise<boolean>;
}

export interface DiscoveryDueEntry {
  tenantId: string;
  /** The exact GSI1SK observed: the planner claims on it. */
  dueSk: string;
  dueAt: string;
  status: DiscoveryState["status"];
}

export interface DiscoveryRepository {
  get(tenantId: string): Promise<DiscoveryState | undefined>;
  /**
   * → `queued` for `runId`, in the due index at `deadline`. `queued: false` (deduplicated) when a run is already
   * queued or running and its deadline is ahead; with `expectedDueSk` (the planner), only if the key is still that.
   */
  request(
    tenantId: string,
    input: { runId: string; now: number; deadline: number; expectedDueSk?: string },
  ): Promise<{ queued: boolean; state: DiscoveryState }>;
  /** → `running` if the row still belongs to `runId`; false for a duplicate or superseded message. */
  start(tenantId: string, input: { runId: string; now: number; deadline: number }): Promise<boolean>;
  /** → completed/failed with the report, due again at `nextRunAt`. ConflictError when superseded. */
  finish(
    tenantId: string,
    input: {
      runId: string;
      now: number;
      status: "completed" | "failed";
      report: DiscoveryCounts;
      error?: { code: string; message: string };
      nextRunAt?: number;
    },
  ): Promise<void>;
  /** Out of the due index (the tenant's key was removed). */
  unschedule(tenantId: string, now: number): Promise<void>;
  queryDue(untilIso: string, page: { limit: number; startKey?: PageKey }): Promise<Page<DiscoveryDueEntry>>;
}

/**
 * A stored lookup index snapshot: its bytes (shared/lookup/snapshot.ts), the key of the settings it was built with, and
 * the id of the write that stored it (every write has its own: only the one a commit recorded is served).
 */
export interface IndexSnapshot {
  bytes: Uint8Array;
  settingsKey: string;
  snapshotId: string;
}

/** What a version's snapshot was built with and which write stored it, from its small settings row. */
export type IndexSnapshotStamp = Pick<IndexSnapshot, "settingsKey" | "snapshotId">;

export interface IndexSnapshotRepository {
  /** Writes (or replaces) the snapshot of `version`; `snapshotId` names this write. */
  write(
    ref: PartitionRef,
    version: number,
    bytes: Uint8Array,
    settingsKey: string,
  ): Promise<{ chunks: number; storedBytes: number; snapshotId: string }>;
  /** undefined when the version has none; NotFoundError when its chunks are torn or unreadable. */
  read(ref: PartitionRef, version: number): Promise<IndexSnapshot | undefined>;
  /** The stamp of the version's snapshot (one small GetItem), or undefined when it has none. */
  stampOf(ref: PartitionRef, version: number): Promise<IndexSnapshotStamp | undefined>;
  /** Removes the snapshots of versions below `version`. */
  deleteOlderThan(ref: PartitionRef, version: number): Promise<void>;
  /** Removes the snapshot of `version` (its chunks and its settings row). */
  delete(ref: PartitionRef, version: number): Promise<void>;
}

/** Everything a service function may need from storage. */
export interface Repositories {
  sources: SourceRepository;
  connections: ConnectionRepository;
  partitions: PartitionRepository;
  items: ItemRepository;
  manifests: ManifestRepository;
  indexSnapshots: IndexSnapshotRepository;
  objects: ObjectRepository;
  jobs: JobRepository;
  apiKeys: ApiKeyRepository;
  usage: UsageRepository;
  changes: ChangeRepository;
  tenants: TenantRepository;
  discovery: DiscoveryRepository;
}
