/**
 * From a Waygate action to a source: its `metadata.referenceData` (only the seed's fields survive Waygate's schema)
 * and its `paginationConfig` in either of Waygate's two shapes (DESIGN.md "Gateway credentials and discovery"), read
 * the way Waygate reads them: a path without a leading `$` means the same path under `$`, a TTL under our minimum is
 * raised to it. Returns the config or the problem, with the field that failed.
 */
import type { DiscoveryProblem } from "../domain/discovery.js";
import { ID_PATTERN, RESERVED_DATA_TYPES } from "../domain/ids.js";
import {
  MIN_TTL_SECONDS,
  type Pagination,
  type SourceInput,
  sourceInputSchema,
  underRootPath,
} from "../domain/source-config.js";
import { fieldIssues } from "../domain/validate.js";
import { mergeExtensions } from "./extensions.js";

/** The seed's `ActionReferenceConfig` fields: all Waygate keeps of `metadata.referenceData`. */
const SEED_FIELDS = [
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
] as const;

export interface WaygateAction {
  slug: string;
  metadata?: unknown;
  paginationConfig?: unknown;
}

export type ActionMapping =
  | { kind: "not_syncable" }
  | {
      kind: "source";
      dataType: string;
      /** The config as discovered (before extensions). */
      discoveredConfig: Record<string, unknown>;
      /** Notes that do not stop the source (a raised TTL, unsupported pagination). */
      notes: Omit<DiscoveryProblem, "integrationId">[];
    }
  | { kind: "invalid"; dataType?: string; problem: Omit<DiscoveryProblem, "integrationId"> };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `members[*]` → `$.members[*]`, `data.items` → `$.data.items`, `[0]` → `$[0]`; `$…` unchanged. */
export function underRoot(path: string): string {
  return underRootPath(path) as string;
}

/** Reads one action. Only `metadata.referenceData.syncable === true` makes a source. */
export function mapAction(action: WaygateAction): ActionMapping {
  const metadata = isRecord(action.metadata) ? action.metadata : {};
  const raw = metadata.referenceData;
  if (!isRecord(raw) || raw.syncable !== true) return { kind: "not_syncable" };
  const notes: Omit<DiscoveryProblem, "integrationId">[] = [];
  const config: Record<string, unknown> = {};
  for (const field of SEED_FIELDS) if (raw[field] !== undefined && raw[field] !== null) config[field] = raw[field];

  const dataType = config.dataType;
  if (typeof dataType !== "string" || !ID_PATTERN.test(dataType) || RESERVED_DATA_TYPES.includes(dataType)) {
    return {
      kind: "invalid",
      problem: {
        actionSlug: action.slug,
        code: "INVALID_DATA_TYPE",
        field: "metadata.referenceData.dataType",
        message:
          typeof dataType !== "string"
            ? "dataType is missing"
            : RESERVED_DATA_TYPES.includes(dataType)
              ? `dataType '${dataType}' is a reserved path word (${RESERVED_DATA_TYPES.join(", ")})`
              : `dataType '${dataType.slice(0, 140)}' cannot be stored: IDs are 1-128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit`,
      },
    };
  }
  if (typeof config.extractionPath === "string") config.extractionPath = underRoot(config.extractionPath);
  if (typeof config.defaultTtlSeconds === "number" && config.defaultTtlSeconds < MIN_TTL_SECONDS) {
    notes.push({
      actionSlug: action.slug,
      code: "TTL_RAISED",
      field: "metadata.referenceData.defaultTtlSeconds",
      message: `defaultTtlSeconds ${config.defaultTtlSeconds} is below the minimum; ${MIN_TTL_SECONDS} is used`,
    });
    config.defaultTtlSeconds = MIN_TTL_SECONDS;
  }
  const pagination = mapPagination(action.paginationConfig);
  if ("problem" in pagination) notes.push({ actionSlug: action.slug, ...pagination.problem });
  else if (pagination.pagination.strategy !== "none") config.pagination = pagination.pagination;
  return { kind: "source", dataType, discoveredConfig: config, notes };
}

/**
 * Builds the source input a discovered config plus its extensions make, validated like a PUT. The failing field is
 * reported as it is named in Waygate (`metadata.referenceData.…`) or in the extensions.
 */
export function buildDiscoveredSource(
  integrationSlug: string,
  action: WaygateAction,
  discoveredConfig: Record<string, unknown>,
  extensions: Record<string, unknown> | undefined,
): { ok: true; input: SourceInput } | { ok: false; problem: Omit<DiscoveryProblem, "integrationId"> } {
  const referenceData = mergeExtensions(discoveredConfig, extensions);
  const parsed = sourceInputSchema.safeParse({ integrationSlug, actionSlug: action.slug, referenceData });
  if (parsed.success) return { ok: true, input: parsed.data };
  const issue = fieldIssues(parsed.error)[0];
  const field = issue?.field ?? "referenceData";
  const inner = field.replace(/^referenceData\.?/, "");
  const fromExtensions = extensions !== undefined && inner !== "" && inner.split(".")[0]! in extensions;
  return {
    ok: false,
    problem: {
      actionSlug: action.slug,
      code: "INVALID_CONFIG",
      field: fromExtensions ? `extensions.${inner}` : field.startsWith("referenceData") ? `metadata.${field}` : field,
      message: issue?.message ?? "invalid reference data config",
    },
  };
}

type PaginationResult =
  | { pagination: Pagination | { strategy: "none" } }
  | { problem: Omit<DiscoveryProblem, "integrationId" | "actionSlug"> };

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const int = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;

/**
 * Waygate's two `paginationConfig` shapes → ours. Shape A (`action.schemas.ts`): `{ type, cursorParam, pageParam,
 * limitParam, responseNextCursorPath }`. Shape B (`pagination.schemas.ts`): `{ enabled, strategy, cursorParam,
 * cursorPath, offsetParam, limitParam, pageParam, defaultPageSize }`. Link headers cannot pass through the gateway.
 */
export function mapPagination(raw: unknown): PaginationResult {
  const none = { pagination: { strategy: "none" as const } };
  if (!isRecord(raw)) return none;
  const shapeA = typeof raw.type === "string";
  const strategy = str(shapeA ? raw.type : raw.strategy);
  if (strategy === undefined || strategy === "auto" || strategy === "none") return none;
  if (!shapeA) {
    const named = str(raw.cursorParam) ?? str(raw.offsetParam) ?? str(raw.pageParam) ?? str(raw.limitParam);
    const enabled = typeof raw.enabled === "boolean" ? raw.enabled : named !== undefined;
    if (!enabled) return none;
  }
  const field = shapeA ? "paginationConfig.type" : "paginationConfig.strategy";
  const limitParam = str(raw.limitParam);
  const pageSize = int(raw.defaultPageSize) ?? int(raw.pageSize);
  const sized = {
    ...(limitParam === undefined ? {} : { limitParam }),
    ...(pageSize === undefined ? {} : { pageSize }),
  };
  switch (strategy) {
    case "cursor": {
      const cursorParam = str(raw.cursorParam);
      const cursorPath = str(shapeA ? raw.responseNextCursorPath : raw.cursorPath) ?? str(raw.cursorPath);
      if (cursorParam === undefined || cursorPath === undefined) {
        return {
          problem: {
            code: "PAGINATION_INVALID",
            field: cursorParam === undefined ? "paginationConfig.cursorParam" : "paginationConfig.cursorPath",
            message: "cursor pagination needs a cursor parameter and the path of the next cursor; one page is synced",
          },
        };
      }
      return { pagination: { strategy: "cursor", cursorParam, cursorPath, ...sized } as Pagination };
    }
    case "offset": {
      const offsetParam = str(shapeA ? raw.pageParam : raw.offsetParam) ?? str(raw.offsetParam) ?? "offset";
      return {
        pagination: {
          strategy: "offset",
          offsetParam,
          limitParam: limitParam ?? "limit",
          pageSize: pageSize ?? 100,
        } as Pagination,
      };
    }
    case "page":
    case "page_number":
      return {
        pagination: {
          strategy: "page",
          pageParam: str(raw.pageParam) ?? "page",
          limitParam: limitParam ?? "per_page",
          pageSize: pageSize ?? 100,
          startPage: 1,
        } as Pagination,
      };
    case "link":
    case "link_header":
      return {
        problem: {
          code: "PAGINATION_UNSUPPORTED",
          field,
          message: `'${strategy}' pagination reads a next-page URL from a response header, which does not pass through the gateway; one page is synced (add a pagination extension to page through the body)`,
        },
      };
    default:
      return {
        problem: {
          code: "PAGINATION_UNSUPPORTED",
          field,
          message: `unknown pagination strategy '${strategy}'; one page is synced`,
        },
      };
  }
}
