/**
 * The API's wire shapes as the console reads them (DESIGN.md, "REST API"). Fields the server may not have yet are
 * optional, so the console keeps working while endpoints land.
 */

export interface JobError {
  code: string;
  message: string;
}

export interface PartitionStatus {
  dataType: string;
  connectionId: string;
  status: string;
  pauseReason?: string;
  freshness: string;
  itemCount: number;
  lastSyncedAt: string | null;
  nextSyncAt: string | null;
  lastJobStatus: string | null;
  lastError?: JobError;
}

export interface Job {
  id?: string;
  jobId: string;
  connectionId: string;
  dataType: string;
  status: string;
  trigger: string;
  mode: string;
  createdAt?: string;
  startedAt: string | null;
  completedAt: string | null;
  itemsFound: number;
  itemsCreated: number;
  itemsUpdated: number;
  itemsDeleted: number;
  itemsFailed: number;
  error?: JobError;
  warnings?: unknown[];
}

export interface SyncStatus {
  dataTypes: PartitionStatus[];
  recentJobs: Job[];
}

export interface TriggeredJob {
  jobId: string | null;
  connectionId: string;
  dataType: string;
  status: string;
  deduplicated: boolean;
  retryAfterSeconds?: number;
  pauseReason?: string;
}

export interface Source {
  dataType: string;
  integrationSlug: string;
  actionSlug: string;
  referenceData: Record<string, unknown>;
  extensions?: Record<string, unknown>;
  origin?: string;
  revision?: number;
  updatedAt?: string;
}

export interface Connection {
  connectionId: string;
  status: string;
  isPrimary?: boolean;
  paused?: boolean;
  ttlSeconds?: number | null;
  origin?: string;
  gatewayStatus?: string;
  enrolledAt?: string;
  revokedAt?: string;
  updatedAt?: string;
}

export interface Item {
  id?: string;
  externalId: string;
  name: string;
  dataType: string;
  connectionId: string;
  status: string;
  metadata: Record<string, unknown>;
  lastSyncedAt: string | null;
  updatedAt: string | null;
}

export interface ObjectData {
  dataType: string;
  object: unknown;
  syncedAt: string | null;
}

export interface LookupMatch {
  id: string;
  name: string;
  score: number;
  matchedField: string;
  matchType: string;
  metadata?: Record<string, unknown>;
}

export interface LookupResult {
  matches: LookupMatch[];
  ambiguous: boolean;
  lastSyncedAt: string | null;
  stale: boolean;
}

export interface Change {
  externalId: string;
  name: string;
  change: string;
  status: string;
  metadata?: Record<string, unknown>;
  changedAt: string;
  jobId?: string;
  dataType?: string;
  connectionId?: string;
}

export interface GatewayCredentials {
  keyHint: string;
  verifiedAt: string;
  status: string;
}

export interface DiscoveryProblem {
  integrationId?: string;
  actionSlug?: string;
  connectionId?: string;
  code: string;
  message: string;
  field?: string;
}

export interface DiscoveryReport {
  status: string;
  lastRunAt?: string | null;
  nextRunAt?: string | null;
  integrations?: unknown;
  sources?: Record<string, number>;
  connections?: Record<string, number>;
  problems?: DiscoveryProblem[];
}

/** An integration the console knows of: from the discovery report, or opened by ID in this tab. */
export interface KnownIntegration {
  id: string;
  slug?: string;
  status?: string;
}

/** Integrations in a listing: IDs, or objects with `integrationId` or `id` and maybe `slug` and `status`. */
export function integrationList(list: unknown): KnownIntegration[] {
  const found = new Map<string, KnownIntegration>();
  for (const entry of Array.isArray(list) ? (list as unknown[]) : []) {
    if (typeof entry === "string") found.set(entry, { id: entry });
    else if (entry && typeof entry === "object") {
      const record = entry as Record<string, unknown>;
      const id = typeof record.integrationId === "string" ? record.integrationId : record.id;
      if (typeof id !== "string") continue;
      const known: KnownIntegration = { id };
      const slug = typeof record.integrationSlug === "string" ? record.integrationSlug : record.slug;
      if (typeof slug === "string") known.slug = slug;
      if (typeof record.status === "string") known.status = record.status;
      found.set(id, known);
    }
  }
  return [...found.values()];
}

/** Integrations named by a discovery report: `integrations` if it is a list, and those its problems name. */
export function integrationsOf(report: DiscoveryReport | undefined): KnownIntegration[] {
  const found = new Map(integrationList(report?.integrations).map((known) => [known.id, known]));
  for (const problem of report?.problems ?? []) {
    if (problem.integrationId && !found.has(problem.integrationId)) {
      found.set(problem.integrationId, { id: problem.integrationId });
    }
  }
  return [...found.values()];
}
