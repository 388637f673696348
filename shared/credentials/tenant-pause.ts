/**
 * Tenant-wide pause and resume for `gateway_key`: a tenant whose Waygate key is missing or refused has every
 * partition paused (its data still served, stale), and saving a new key resumes exactly those. Other tenants are
 * never touched: the work starts from the tenant's own `INTEG#` rows.
 */

import { pauseAll } from "../api/config/partitions.js";
import { mapLimit } from "../concurrency.js";
import type { Clock } from "../domain/clock.js";
import { refOf } from "../domain/ids.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";

const CONCURRENCY = 8;

type Deps = {
  repos: Pick<Repositories, "tenants" | "usage" | "partitions" | "jobs">;
  clock: Clock;
  log?: Logger;
};

/** Pauses every partition of the tenant not already paused for `gateway_key`. Returns how many. */
export async function pauseTenantForGatewayKey(deps: Deps, tenantId: string): Promise<number> {
  const now = deps.clock.now();
  const integrations = await integrationsOf(deps, tenantId);
  const counts = await mapLimit(integrations, CONCURRENCY, async (integrationId) => {
    const partitions = await deps.repos.partitions.listByIntegration(tenantId, integrationId);
    return pauseAll(deps, partitions, "gateway_key", now, "the tenant's Waygate API key is missing or was refused");
  });
  const paused = counts.reduce((a, b) => a + b, 0);
  deps.log?.warn("tenant paused: Waygate API key missing or refused", { tenantId, paused });
  return paused;
}

/** Resumes (due now) every partition of the tenant paused for `gateway_key`. Returns how many. */
export async function resumeTenantAfterGatewayKey(deps: Deps, tenantId: string): Promise<number> {
  const now = deps.clock.now();
  const integrations = await integrationsOf(deps, tenantId);
  const counts = await mapLimit(integrations, CONCURRENCY, async (integrationId) => {
    const partitions = await deps.repos.partitions.listByIntegration(tenantId, integrationId);
    const targets = partitions.filter((p) => p.status === "paused" && p.pauseReason === "gateway_key");
    await mapLimit(targets, CONCURRENCY, (p) => deps.repos.partitions.resume(refOf(p), now));
    return targets.length;
  });
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * What the worker does when the gateway refused the tenant's key: marks that key `invalid` (only if it is still the
 * stored one) and pauses the tenant. A missing key (no version) only pauses.
 */
export async function handleGatewayKeyRefused(
  deps: Deps,
  tenantId: string,
  keyVersion: string | undefined,
): Promise<void> {
  if (keyVersion !== undefined) {
    const marked = await deps.repos.tenants.markCredentialsInvalid(tenantId, keyVersion, deps.clock.now());
    // A key saved since the refusal: it resumed the tenant already, and must not be paused again.
    const current = await deps.repos.tenants.getCredentials(tenantId);
    if (!marked && current !== undefined && current.version !== keyVersion && current.status === "valid") return;
  }
  await pauseTenantForGatewayKey(deps, tenantId);
}

/** The tenant's configured integrations: one Query of its `INTEG#` rows. */
async function integrationsOf(deps: Deps, tenantId: string): Promise<string[]> {
  return (await deps.repos.usage.listIntegrations(tenantId)).map((usage) => usage.integrationId);
}
