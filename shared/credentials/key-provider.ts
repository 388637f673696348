/**
 * Each tenant's Waygate key for the gateway client, decrypted from its GWKEY row and cached per warm container for
 * `ttlMs` (default 2 minutes), so a worker does not read and decrypt per call, yet a key saved by the API is used
 * within minutes — and at once after a refusal (`fresh`). A tenant without a key, or whose key is marked invalid,
 * gets a `gateway_key` GatewayError: nothing is sent to the gateway as anyone else.
 */
import { type Clock, systemClock } from "../domain/clock.js";
import type { TenantGatewayKey, TenantKeyProvider } from "../gateway/client.js";
import { GatewayError } from "../gateway/errors.js";
import type { TenantRepository } from "../storage/ports.js";
import type { KeyCipher } from "./cipher.js";

export const DEFAULT_KEY_CACHE_MS = 2 * 60_000;

export function createTenantKeyProvider(deps: {
  tenants: Pick<TenantRepository, "getCredentials">;
  cipher: KeyCipher | undefined;
  clock?: Clock;
  ttlMs?: number;
}): TenantKeyProvider {
  const clock = deps.clock ?? systemClock;
  const ttlMs = deps.ttlMs ?? DEFAULT_KEY_CACHE_MS;
  const cache = new Map<string, { value: TenantGatewayKey; expiresAt: number }>();

  const load = async (tenantId: string): Promise<TenantGatewayKey> => {
    const row = await deps.tenants.getCredentials(tenantId);
    if (!row) {
      throw new GatewayError(
        "gateway_key",
        "GATEWAY_KEY_MISSING",
        "the tenant has no Waygate API key: save one with PUT /api/v1/gateway/credentials",
      );
    }
    if (row.status === "invalid") {
      throw new GatewayError(
        "gateway_key",
        "GATEWAY_KEY_INVALID",
        `the tenant's Waygate API key (${row.keyHint}) was refused by the gateway: save a new one`,
        { keyVersion: row.version },
      );
    }
    if (!deps.cipher) throw new GatewayError("service_auth", "KEY_CIPHER_UNAVAILABLE", "no key cipher is configured");
    const apiKey = await deps.cipher.decrypt(tenantId, row.ciphertext);
    return { apiKey, version: row.version };
  };

  return async (tenantId, options = {}) => {
    const hit = cache.get(tenantId);
    if (!options.fresh && hit && clock.now() < hit.expiresAt) return hit.value;
    cache.delete(tenantId);
    const value = await load(tenantId);
    cache.set(tenantId, { value, expiresAt: clock.now() + ttlMs });
    return value;
  };
}
