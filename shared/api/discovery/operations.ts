/**
 * `GET` / `POST /api/v1/discovery` and `PATCH …/sources/{dataType}` `{ extensions }`: the tenant's discovery report,
 * a run on demand, and this service's own fields on a discovered source.
 */
import type { z } from "zod";
import { EXTENSION_FIELDS, mergeExtensions, patchExtensions } from "../../discovery/extensions.js";
import { requestDiscovery, type ScheduleDeps } from "../../discovery/schedule.js";
import { type DiscoveryStatus, emptyDiscoveryCounts } from "../../domain/discovery.js";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import { sourceInputSchema } from "../../domain/source-config.js";
import { fieldIssues } from "../../domain/validate.js";
import type { Repositories } from "../../storage/ports.js";
import { ensurePartitionsFor } from "../../sync/partitions.js";
import type { ConfigDeps } from "../config/partitions.js";
import type { SourceWire } from "../config/schemas.js";
import { getSource } from "../config/sources.js";
import type { DiscoveryWire, extensionsBodySchema } from "./schemas.js";

/** The last report and the current status (`never` before the first run). */
export async function getDiscovery(
  deps: { repos: Pick<Repositories, "discovery"> },
  tenantId: string,
): Promise<DiscoveryWire> {
  const state = await deps.repos.discovery.get(tenantId);
  const report = state?.report ?? emptyDiscoveryCounts();
  const status: DiscoveryStatus = state?.status ?? "never";
  return {
    status,
    lastRunAt: state?.lastRunAt ?? null,
    nextRunAt: state?.nextRunAt ?? null,
    ...report,
    ...(state?.error && status === "failed" ? { error: state.error } : {}),
  };
}

/** Queues a run (deduplicated while one is queued or running). NotFoundError without credentials. */
export async function postDiscovery(
  deps: ScheduleDeps & { repos: Pick<Repositories, "discovery" | "tenants"> },
  tenantId: string,
): Promise<{ status: "queued" | "running"; deduplicated: boolean }> {
  if (!(await deps.repos.tenants.getCredentials(tenantId))) {
    throw new NotFoundError("No gateway credentials are stored: PUT /api/v1/gateway/credentials first");
  }
  const { queued, state } = await requestDiscovery(deps, tenantId);
  return { status: state.status === "running" ? "running" : "queued", deduplicated: !queued };
}

const EXTENSION_FIELD_SET: ReadonlySet<string> = new Set(EXTENSION_FIELDS);

/**
 * Merges `extensions` (key by key, `null` removes one) into a discovered source, validated like a PUT, and makes
 * its partitions exist (due now). Manual sources take a full PUT instead.
 */
export async function patchSourceExtensions(
  deps: ConfigDeps,
  scope: { tenantId: string; integrationId: string; dataType: string },
  body: z.output<typeof extensionsBodySchema>,
): Promise<SourceWire> {
  const unknown = Object.keys(body.extensions).filter((field) => !EXTENSION_FIELD_SET.has(field));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown extension field(s): ${unknown.join(", ")}`, {
      issues: unknown.map((field) => ({
        field: `extensions.${field}`,
        message: `one of ${EXTENSION_FIELDS.join(", ")}`,
      })),
    });
  }
  const source = await deps.repos.sources.get(scope.tenantId, scope.integrationId, scope.dataType);
  if (!source) throw new NotFoundError(`No source for data type '${scope.dataType}'`, { dataType: scope.dataType });
  if (source.origin !== "discovered" || !source.discoveredConfig) {
    throw new ValidationError("Only discovered sources take extensions; replace a manual source with PUT", {
      issues: [{ field: "extensions", message: "the source was saved with PUT" }],
    });
  }
  const extensions = patchExtensions(source.extensions, body.extensions);
  const parsed = sourceInputSchema.safeParse({
    integrationSlug: source.integrationSlug,
    actionSlug: source.actionSlug,
    referenceData: mergeExtensions(source.discoveredConfig, extensions),
  });
  if (!parsed.success) {
    const issues = fieldIssues(parsed.error).map((issue) => ({
      field: issue.field.replace(/^referenceData\./, "extensions."),
      message: issue.message,
    }));
    throw new ValidationError(`Invalid extensions: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`, {
      issues,
    });
  }
  const now = deps.clock.now();
  await deps.repos.sources.put(scope.tenantId, scope.integrationId, scope.dataType, parsed.data, now, {
    origin: "discovered",
    discoveredConfig: source.discoveredConfig,
    ...(extensions === undefined ? {} : { extensions }),
  });
  await ensurePartitionsFor(deps.repos, scope, now);
  // Like any config change, the source's partitions are due now (paused ones stay paused for their own reason).
  const partitions = await deps.repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
    dataType: scope.dataType,
  });
  for (const partition of partitions.filter((p) => p.status === "idle" || p.status === "failed")) {
    await deps.repos.partitions.resume(partition, now);
  }
  return getSource(deps, scope);
}
