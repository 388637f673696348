/**
 * What the upstream currently holds, as a sync would store it: the sample gateway's datasets run through the same
 * extraction as the worker, so a test can tell an upstream-current item version from a stale or invented one.
 */

import type { SampleDatasets } from "../../../infra/local/sample-gateway/index.js";
import type { ItemStatus } from "../../../shared/domain/entities.js";
import { type ReferenceDataConfig, referenceDataConfigSchema } from "../../../shared/domain/source-config.js";
import { extractItems } from "../../../shared/extraction/extract.js";

export interface UpstreamEntry {
  hash: string;
  status: ItemStatus;
  name: string;
}

/** The body an action would return if it answered everything in one page. */
export function wholeResponse(integrationSlug: string, actionSlug: string, data: SampleDatasets): unknown {
  switch (`${integrationSlug}/${actionSlug}`) {
    case "slack/list-users":
    case "slack/list-users-paged":
      return { ok: true, members: data.slackUsers };
    case "slack/list-channels":
      return { ok: true, channels: data.slackChannels };
    case "github/list-repos":
      return data.githubRepos;
    case "microsoft-graph/list-users":
      return { value: data.graphUsers };
    case "hubspot/get-crm-schema":
      return data.crmSchema;
    default:
      throw new Error(`no whole response for ${integrationSlug}/${actionSlug}`);
  }
}

/** externalId → the hash, status and name a sync of the whole upstream stores (the last record wins for an id). */
export function upstreamItems(config: unknown, response: unknown): Map<string, UpstreamEntry> {
  const parsed: ReferenceDataConfig = referenceDataConfigSchema.parse(config);
  const extraction = extractItems(parsed, response);
  const entries = new Map<string, UpstreamEntry>();
  for (const item of extraction.items) {
    entries.delete(item.externalId);
    entries.set(item.externalId, {
      hash: item.contentHash,
      status: item.deleted ? "deleted" : "active",
      name: item.name,
    });
  }
  return entries;
}
