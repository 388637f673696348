/**
 * `PUT` / `GET` / `DELETE /api/v1/gateway/credentials`: the tenant's Waygate API key. A key is checked against the
 * gateway before it is stored (refused → 400 INVALID_GATEWAY_KEY, unreachable → 503 GATEWAY_UNAVAILABLE, nothing
 * stored either way), stored encrypted, and never returned, logged or put in an error: only its hint is shown.
 * Saving resumes the tenant's `gateway_key` pauses and queues a discovery run; deleting pauses the tenant.
 */
import { z } from "zod";
import { requestDiscovery } from "../discovery/schedule.js";
import type { Clock } from "../domain/clock.js";
import type { GatewayCredentials } from "../domain/entities.js";
import { GatewayUnavailableError, InternalError, InvalidGatewayKeyError, NotFoundError } from "../domain/errors.js";
import { ulid } from "../domain/ulid.js";
import { checkGatewayKey } from "../gateway/client.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";
import type { SyncQueue } from "../sync/sync-queue.js";
import { type KeyCipher, keyHint } from "./cipher.js";
import { pauseTenantForGatewayKey, resumeTenantAfterGatewayKey } from "./tenant-pause.js";

export const credentialsBodySchema = z
  .object({ apiKey: z.string().trim().min(8, "must be a Waygate API key").max(512) })
  .strict();

export const credentialsWireSchema = z.object({
  keyHint: z.string(),
  verifiedAt: z.string(),
  status: z.enum(["valid", "invalid"]),
  discovery: z.object({ status: z.enum(["queued", "running"]) }).optional(),
});
export type CredentialsWire = z.infer<typeof credentialsWireSchema>;

export interface CredentialsDeps {
  repos: Repositories;
  queue: SyncQueue | undefined;
  clock: Clock;
  log: Logger;
  cipher: KeyCipher | undefined;
  gatewayUrl: string | undefined;
  fetch?: typeof fetch;
}

/** Verifies, encrypts and stores the key; resumes the tenant and queues discovery. */
export async function saveCredentials(
  deps: CredentialsDeps,
  tenantId: string,
  body: z.output<typeof credentialsBodySchema>,
): Promise<CredentialsWire> {
  if (!deps.gatewayUrl) throw new InternalError("GATEWAY_URL is not configured");
  if (!deps.cipher)
    throw new InternalError("No key cipher is configured (CREDENTIALS_KMS_KEY_ID or CREDENTIALS_KEY_FILE)");
  const check = await checkGatewayKey(deps.gatewayUrl, body.apiKey, deps.fetch ? { fetch: deps.fetch } : {});
  if (check === "invalid") throw new InvalidGatewayKeyError("The gateway refused this API key; nothing was stored");
  if (check === "unavailable") {
    throw new GatewayUnavailableError("The gateway could not be reached to verify the key; nothing was stored");
  }
  const now = deps.clock.now();
  const ciphertext = await deps.cipher.encrypt(tenantId, body.apiKey);
  const credentials = await deps.repos.tenants.putCredentials(tenantId, {
    ciphertext,
    version: ulid(now),
    keyHint: keyHint(body.apiKey),
    now,
  });
  const resumed = await resumeTenantAfterGatewayKey(deps, tenantId);
  const discovery = await requestDiscovery(deps, tenantId);
  deps.log.info("gateway credentials saved", { tenantId, keyHint: credentials.keyHint, resumed });
  const status = discovery.state.status === "running" ? "running" : "queued";
  return { ...wire(credentials), discovery: { status } };
}

/** NotFoundError when the tenant has none. */
export async function getCredentials(deps: Pick<CredentialsDeps, "repos">, tenantId: string): Promise<CredentialsWire> {
  const credentials = await deps.repos.tenants.getCredentials(tenantId);
  if (!credentials) throw new NotFoundError("No gateway credentials are stored for this tenant");
  return wire(credentials);
}

/** Removes the key and pauses the tenant's partitions (`gateway_key`). NotFoundError when there was none. */
export async function deleteCredentials(
  deps: CredentialsDeps,
  tenantId: string,
): Promise<{ deleted: true; paused: number }> {
  if (!(await deps.repos.tenants.deleteCredentials(tenantId))) {
    throw new NotFoundError("No gateway credentials are stored for this tenant");
  }
  await deps.repos.discovery.unschedule(tenantId, deps.clock.now());
  const paused = await pauseTenantForGatewayKey(deps, tenantId);
  return { deleted: true, paused };
}

function wire(credentials: GatewayCredentials): CredentialsWire {
  return { keyHint: credentials.keyHint, verifiedAt: credentials.verifiedAt, status: credentials.status };
}
