/**
 * `GET /api/v1/integrations`: the tenant's configured integrations, so a client (the admin console) can list them
 * instead of being told their IDs. Read from the tenant's `INTEG#` rows (one per integration with a source or a
 * connection, kept by shared/quotas.ts), each with the slug its sources call it by.
 */
import { z } from "zod";
import type { Repositories } from "../../storage/ports.js";

export const integrationWireSchema = z.object({
  integrationId: z.string(),
  /** The integration's slug as its sources name it (absent while it has none). */
  integrationSlug: z.string().optional(),
  /** Syncable sources and active connections, as the quotas count them. */
  sources: z.number().int(),
  connections: z.number().int(),
});
export type IntegrationWire = z.infer<typeof integrationWireSchema>;

/** Every configured integration of the tenant, by ID. */
export async function listIntegrations(
  deps: { repos: Pick<Repositories, "usage" | "sources"> },
  tenantId: string,
): Promise<IntegrationWire[]> {
  const usage = await deps.repos.usage.listIntegrations(tenantId);
  const sorted = [...usage].sort((a, b) => a.integrationId.localeCompare(b.integrationId));
  return Promise.all(
    sorted.map(async ({ integrationId, sources, connections }) => {
      const slug = (await deps.repos.sources.list(tenantId, integrationId))[0]?.integrationSlug;
      return { integrationId, ...(slug === undefined ? {} : { integrationSlug: slug }), sources, connections };
    }),
  );
}
