/** A small HTTP client for driving the local stack's API like a user (fetch + the envelope). */

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The raw body, for isolation checks that look for leaked values anywhere in it. */
  text: string;
  body: {
    success: boolean;
    data?: T;
    pagination?: { cursor: string | null; hasMore: boolean };
    error?: { code: string; message: string; requestId: string; details?: Record<string, unknown> };
  };
}

export type ApiCall = <T = unknown>(
  method: "GET" | "PUT" | "POST" | "DELETE" | "PATCH",
  path: string,
  options?: { key?: string | null; body?: unknown },
) => Promise<ApiResponse<T>>;

/** A client bound to an API base URL and a default key (`key: null` sends no Authorization header). */
export function localApi(apiUrl: () => string, defaultKey?: string): ApiCall {
  return async (method, path, options = {}) => {
    const key = options.key === undefined ? defaultKey : options.key;
    const headers: Record<string, string> = {};
    if (key) headers.Authorization = `Bearer ${key}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(`${apiUrl()}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text === "" ? {} : JSON.parse(text) };
  };
}

/** Wire shapes of DESIGN.md "REST API" that the tests read. */
export interface LookupData {
  matches: Array<{ id: string; name: string; score: number; matchedField: string; matchType: string }>;
  ambiguous: boolean;
  lastSyncedAt?: string;
  stale: boolean;
}

export interface StatusData {
  dataTypes: Array<{
    dataType: string;
    connectionId: string;
    status: string;
    freshness: string;
    itemCount: number;
    lastJobStatus?: string;
  }>;
  recentJobs: Array<{
    jobId: string;
    dataType: string;
    status: string;
    trigger: string;
    itemsFound: number;
    itemsCreated: number;
    itemsUpdated: number;
    itemsDeleted: number;
    itemsFailed: number;
  }>;
}

export interface TriggerData {
  jobs: Array<{ jobId: string | null; dataType: string; status: string; deduplicated: boolean }>;
}

export interface ItemData {
  externalId: string;
  name: string;
  dataType: string;
  status: string;
  metadata: Record<string, unknown>;
}

/**
 * Stores a tenant's sample-gateway key as `PUT /gateway/credentials` would, without queueing a discovery: for tests
 * whose subject is something else (shutdown, the planner timer) and that drive manually saved sources only. The
 * credentials path itself is driven over HTTP in sync-lifecycle.test.ts and demo.test.ts.
 */
export async function storeSampleGatewayKey(
  stack: { repos: import("../../../shared/storage/ports.js").Repositories },
  tenantId: string,
): Promise<void> {
  const { getRuntime } = await import("../../../shared/runtime.js");
  const { sampleGatewayKey } = await import("../../../infra/local/sample-gateway/index.js");
  const cipher = getRuntime().keyCipher;
  if (!cipher) throw new Error("the local stack has no key cipher");
  const ciphertext = await cipher.encrypt(tenantId, sampleGatewayKey(tenantId));
  await stack.repos.tenants.putCredentials(tenantId, {
    ciphertext,
    version: `e2e-${Date.now()}`,
    keyHint: "wg_sampl…",
    now: Date.now(),
  });
}
