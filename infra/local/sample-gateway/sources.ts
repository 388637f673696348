/**
 * Source configurations for the sample gateway's actions, one per pagination style, as a tenant would save them.
 * The local stack registers them on first start; tests spread and override them (e.g. a larger `pageSize`).
 */
import type { ReferenceDataConfigInput } from "../../../shared/domain/source-config.js";

export interface SampleSource {
  dataType: string;
  integrationId: string;
  integrationSlug: string;
  actionSlug: string;
  referenceData: ReferenceDataConfigInput;
}

export const SAMPLE_SOURCES: SampleSource[] = [
  {
    dataType: "users",
    integrationId: "slack",
    integrationSlug: "slack",
    actionSlug: "list-users",
    referenceData: {
      dataType: "users",
      syncType: "list",
      extractionPath: "$.members[*]",
      idField: "id",
      nameField: "profile.real_name",
      lookupFields: ["profile.real_name", "name", "profile.email"],
      metadataFields: ["profile.email", "profile.display_name", "profile.title", "name", "is_bot", "is_admin"],
      deletedField: "deleted",
      defaultTtlSeconds: 3600,
      pagination: {
        strategy: "cursor",
        cursorPath: "response_metadata.next_cursor",
        cursorParam: "cursor",
        limitParam: "limit",
        pageSize: 200,
      },
    },
  },
  {
    dataType: "channels",
    integrationId: "slack",
    integrationSlug: "slack",
    actionSlug: "list-channels",
    referenceData: {
      dataType: "channels",
      syncType: "list",
      extractionPath: "$.channels[*]",
      idField: "id",
      nameField: "name",
      lookupFields: ["name"],
      metadataFields: ["is_archived", "num_members", "topic.value"],
      defaultTtlSeconds: 3600,
      // The sample answers an empty page with a next cursor after the first page, as Slack does.
      pagination: {
        strategy: "cursor",
        cursorPath: "response_metadata.next_cursor",
        cursorParam: "cursor",
        limitParam: "limit",
        pageSize: 100,
      },
      request: { exclude_archived: false, types: "public_channel" },
    },
  },
  {
    dataType: "repositories",
    integrationId: "github",
    integrationSlug: "github",
    actionSlug: "list-repos",
    referenceData: {
      dataType: "repositories",
      syncType: "list",
      extractionPath: "$",
      idField: "id",
      nameField: "name",
      lookupFields: ["name", "full_name"],
      metadataFields: ["full_name", "private", "default_branch", "description"],
      defaultTtlSeconds: 21_600,
      // Small pages so the 12 demo repositories take three calls, the last one short.
      pagination: { strategy: "page", pageParam: "page", limitParam: "per_page", pageSize: 5, startPage: 1 },
    },
  },
  {
    dataType: "users",
    integrationId: "microsoft",
    integrationSlug: "microsoft-graph",
    actionSlug: "list-users",
    referenceData: {
      dataType: "users",
      syncType: "list",
      extractionPath: "$.value[*]",
      idField: "id",
      nameField: "displayName",
      lookupFields: ["displayName", "mail", "userPrincipalName"],
      metadataFields: ["mail", "userPrincipalName", "jobTitle"],
      defaultTtlSeconds: 3600,
      pagination: { strategy: "link", nextLinkPath: "$['@odata.nextLink']" },
      request: { $top: 5 },
    },
  },
  {
    dataType: "crm_schema",
    integrationId: "hubspot",
    integrationSlug: "hubspot",
    actionSlug: "get-crm-schema",
    referenceData: { dataType: "crm_schema", syncType: "object", defaultTtlSeconds: 86_400 },
  },
];
