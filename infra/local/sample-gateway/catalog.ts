/**
 * What the sample gateway lists for discovery, shaped like Waygate's `GET /api/v1/integrations`, `…/{id}/actions` and
 * `…/{id}/connections`: UUID ids (derived from the tenant, so two tenants never share one), actions whose
 * `metadata.referenceData` holds the sample configs as Waygate's schema keeps them (the seed's fields only; one of
 * them invalid, so discovery has a problem to report) and whose `paginationConfig` uses both of Waygate's shapes, a
 * primary and a second Slack connection, a disabled one, and a disabled integration.
 */
import { createHash } from "node:crypto";
import { SAMPLE_SOURCES } from "./sources.js";

export interface CatalogAction {
  slug: string;
  name: string;
  httpMethod: string;
  metadata: Record<string, unknown>;
  paginationConfig?: Record<string, unknown> | null;
}

export interface CatalogConnection {
  id: string;
  name: string;
  status: "active" | "error" | "disabled";
  isPrimary: boolean;
}

export interface CatalogIntegration {
  id: string;
  slug: string;
  name: string;
  status: "active" | "draft" | "error" | "disabled";
  actions: CatalogAction[];
  connections: CatalogConnection[];
}

export interface SampleCatalog {
  integrations: CatalogIntegration[];
}

/** A stable UUID (v4 layout) from a name: the same tenant always gets the same ids. */
export function sampleUuid(...parts: string[]): string {
  const hex = createHash("sha256").update(parts.join("/")).digest("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The seed's fields: all Waygate keeps of `metadata.referenceData`. Written out here on purpose rather than imported
 * from shared/discovery: the sample gateway models Waygate, so a change to how discovery reads configs cannot
 * silently change what the gateway serves.
 */
const SEED_FIELDS = new Set([
  "dataType",
  "syncable",
  "syncType",
  "extractionPath",
  "idField",
  "nameField",
  "lookupFields",
  "fuzzyMatch",
  "metadataFields",
  "defaultTtlSeconds",
]);

function asWaygateKeepsIt(config: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = { syncable: true };
  for (const [key, value] of Object.entries(config)) if (SEED_FIELDS.has(key)) kept[key] = value;
  return kept;
}

function sampleConfig(integrationSlug: string, actionSlug: string): Record<string, unknown> {
  const source = SAMPLE_SOURCES.find((s) => s.integrationSlug === integrationSlug && s.actionSlug === actionSlug);
  if (!source) throw new Error(`no sample source ${integrationSlug}/${actionSlug}`);
  return asWaygateKeepsIt(source.referenceData as Record<string, unknown>);
}

/** The catalog of one tenant of the sample gateway. */
export function defaultCatalog(tenantId: string): SampleCatalog {
  const id = (...parts: string[]) => sampleUuid(tenantId, ...parts);
  const users = sampleConfig("slack", "list-users");
  // Waygate's path reader takes `members[*]` as `$.members[*]`.
  users.extractionPath = "members[*]";
  return {
    integrations: [
      {
        id: id("slack"),
        slug: "slack",
        name: "Slack",
        status: "active",
        actions: [
          {
            slug: "list-users",
            name: "List users",
            httpMethod: "GET",
            metadata: { referenceData: users },
            // Shape B (pagination.schemas.ts).
            paginationConfig: {
              enabled: true,
              strategy: "cursor",
              cursorParam: "cursor",
              cursorPath: "$.response_metadata.next_cursor",
              limitParam: "limit",
              defaultPageSize: 200,
              maxPages: 5,
            },
          },
          {
            slug: "list-channels",
            name: "List channels",
            httpMethod: "GET",
            metadata: { referenceData: sampleConfig("slack", "list-channels") },
            // Shape A (action.schemas.ts).
            paginationConfig: {
              type: "cursor",
              cursorParam: "cursor",
              responseNextCursorPath: "response_metadata.next_cursor",
              limitParam: "limit",
            },
          },
          {
            slug: "list-user-groups",
            name: "List user groups",
            httpMethod: "GET",
            // Invalid on purpose: the JSONPath does not parse, so discovery reports it with its field.
            metadata: {
              referenceData: {
                dataType: "user_groups",
                syncable: true,
                extractionPath: "$.usergroups[",
                idField: "id",
              },
            },
          },
          { slug: "post-message", name: "Post a message", httpMethod: "POST", metadata: {} },
        ],
        connections: [
          { id: id("slack", "conn", "primary"), name: "Acme workspace", status: "active", isPrimary: true },
          { id: id("slack", "conn", "second"), name: "Acme EU workspace", status: "active", isPrimary: false },
          { id: id("slack", "conn", "old"), name: "Old workspace", status: "disabled", isPrimary: false },
        ],
      },
      {
        id: id("github"),
        slug: "github",
        name: "GitHub",
        status: "active",
        actions: [
          {
            slug: "list-repos",
            name: "List repositories",
            httpMethod: "GET",
            metadata: { referenceData: sampleConfig("github", "list-repos") },
            paginationConfig: {
              enabled: true,
              strategy: "page_number",
              pageParam: "page",
              limitParam: "per_page",
              defaultPageSize: 5,
            },
          },
        ],
        connections: [{ id: id("github", "conn", "primary"), name: "acme org", status: "active", isPrimary: true }],
      },
      {
        id: id("microsoft-graph"),
        slug: "microsoft-graph",
        name: "Microsoft Graph",
        status: "active",
        actions: [
          {
            slug: "list-users",
            name: "List users",
            httpMethod: "GET",
            metadata: { referenceData: sampleConfig("microsoft-graph", "list-users") },
            // A next link in a header cannot pass the gateway: reported, one page synced.
            paginationConfig: { type: "link" },
          },
        ],
        connections: [{ id: id("graph", "conn", "primary"), name: "acme tenant", status: "active", isPrimary: true }],
      },
      {
        id: id("hubspot"),
        slug: "hubspot",
        name: "HubSpot",
        status: "active",
        actions: [
          {
            slug: "get-crm-schema",
            name: "Get CRM schema",
            httpMethod: "GET",
            metadata: { referenceData: sampleConfig("hubspot", "get-crm-schema") },
            paginationConfig: { enabled: false, strategy: "auto" },
          },
        ],
        connections: [{ id: id("hubspot", "conn", "primary"), name: "acme portal", status: "active", isPrimary: true }],
      },
      {
        id: id("legacy-crm"),
        slug: "legacy-crm",
        name: "Legacy CRM",
        status: "disabled",
        actions: [],
        connections: [],
      },
    ],
  };
}

/**
 * One page of a listing, as Waygate answers it: `{ success, data: { <name>: [...], pagination: { cursor, hasMore,
 * totalCount } } }`. `integrationId` undefined lists the integrations; otherwise `kind` names the sub-listing.
 */
export function listingPage(
  catalog: SampleCatalog,
  integrationId: string | undefined,
  kind: string | undefined,
  query: Record<string, string>,
  maxPageSize: number,
): { status: 200; body: unknown } | { status: 400 | 404; code: string; message: string } {
  const limit = Math.min(maxPageSize, Math.max(1, Number(query.limit ?? 20) || 20));
  const offset = query.cursor ? Number(Buffer.from(query.cursor, "base64url").toString("utf8").split(":")[1]) : 0;
  if (!Number.isInteger(offset) || offset < 0)
    return { status: 400, code: "VALIDATION_ERROR", message: "invalid cursor" };
  let name: string;
  let rows: unknown[];
  if (integrationId === undefined) {
    name = "integrations";
    rows = catalog.integrations.map((i) => ({ id: i.id, slug: i.slug, name: i.name, status: i.status }));
  } else {
    const integration = catalog.integrations.find((i) => i.id === decodeURIComponent(integrationId));
    if (!integration) return { status: 404, code: "INTEGRATION_NOT_FOUND", message: "integration not found" };
    name = kind === "actions" ? "actions" : "connections";
    rows =
      name === "actions"
        ? integration.actions.map((action) => ({
            id: `${integration.id}:${action.slug}`,
            integrationId: integration.id,
            ...action,
          }))
        : integration.connections.map((connection) => ({ integrationId: integration.id, ...connection }));
  }
  const hasMore = offset + limit < rows.length;
  const cursor = hasMore ? Buffer.from(`${name}:${offset + limit}`, "utf8").toString("base64url") : null;
  return {
    status: 200,
    body: {
      success: true,
      data: { [name]: rows.slice(offset, offset + limit), pagination: { cursor, hasMore, totalCount: rows.length } },
    },
  };
}
