import { z } from "zod";
import { dataTypeSchema, idSchema } from "./ids.js";
import { parseDotPath, parseJsonPath, parseValuePath } from "./paths.js";
import { isSecretPath } from "./secret-paths.js";

function pathSchema(parse: (path: string) => { ok: true } | { ok: false; error: string }, what: string) {
  return z.string().superRefine((value, ctx) => {
    const parsed = parse(value);
    if (!parsed.ok) ctx.addIssue({ code: "custom", message: `invalid ${what} '${value}': ${parsed.error}` });
  });
}

/** JSONPath of our restricted grammar (see paths.ts). */
export const jsonPathSchema = pathSchema(parseJsonPath, "JSONPath");
/** Dot path inside an item, e.g. `profile.real_name`. */
export const dotPathSchema = pathSchema(parseDotPath, "field path");
/** A single value in a response: JSONPath (`$['@odata.nextLink']`) or dot path (`response_metadata.next_cursor`). */
export const valuePathSchema = pathSchema(parseValuePath, "value path");

const paramName = z.string().min(1).max(128);
const pageSize = z.number().int().min(1).max(10_000);
/** Upper bound on pages per sync, a guard against upstreams that never stop. */
const maxPages = z.number().int().min(1).max(100_000).optional();

export const paginationSchema = z.discriminatedUnion("strategy", [
  z.object({ strategy: z.literal("none") }).strict(),
  z
    .object({
      strategy: z.literal("cursor"),
      cursorPath: valuePathSchema,
      cursorParam: paramName,
      limitParam: paramName.optional(),
      pageSize: pageSize.optional(),
      maxPages,
    })
    .strict(),
  z
    .object({
      strategy: z.literal("offset"),
      offsetParam: paramName.default("offset"),
      limitParam: paramName.default("limit"),
      pageSize: pageSize.default(100),
      maxPages,
    })
    .strict(),
  z
    .object({
      strategy: z.literal("page"),
      pageParam: paramName.default("page"),
      limitParam: paramName.default("per_page"),
      pageSize: pageSize.default(100),
      startPage: z.number().int().min(0).default(1),
      maxPages,
    })
    .strict(),
  z.object({ strategy: z.literal("link"), nextLinkPath: valuePathSchema, maxPages }).strict(),
  z.object({ strategy: z.literal("gateway"), maxPages }).strict(),
]);
export type Pagination = z.infer<typeof paginationSchema>;
export type PaginationStrategy = Pagination["strategy"];

export const incrementalSchema = z
  .object({
    sinceParam: paramName,
    /** How often a full sync runs anyway, to catch deletions. */
    fullSyncEverySeconds: z
      .number()
      .int()
      .min(300)
      .default(86_400 * 7),
  })
  .strict();

/** The shortest TTL a source may have: the planner's rate bounds how fresh data can be anyway. */
export const MIN_TTL_SECONDS = 60;
const ttlSchema = z.number().int().min(MIN_TTL_SECONDS).max(31_536_000);

/** `members[*]` → `$.members[*]`, `data.items` → `$.data.items`, `[0]` → `$[0]`; `$…` and non-strings unchanged. */
export function underRootPath(path: unknown): unknown {
  if (typeof path !== "string" || path === "" || path.startsWith("$")) return path;
  return path.startsWith("[") ? `$${path}` : `$.${path}`;
}

/** The `referenceData` block of an action: how one dataType is fetched and read. */
export const referenceDataConfigSchema = z
  .object({
    dataType: dataTypeSchema,
    syncable: z.boolean().default(true),
    syncType: z.enum(["list", "object"]).default("list"),
    // Waygate's path reader takes `members[*]` and `data.items` as `$.members[*]` and `$.data.items`: so do we.
    extractionPath: z.preprocess(underRootPath, jsonPathSchema).optional(),
    idField: dotPathSchema.default("id"),
    nameField: dotPathSchema.default("name"),
    lookupFields: z.array(dotPathSchema).max(10).optional(),
    fuzzyMatch: z.boolean().default(true),
    metadataFields: z.array(dotPathSchema).max(50).default([]),
    // A TTL under the minimum is raised to it, as configs from Waygate's metadata may carry one (DESIGN.md).
    defaultTtlSeconds: z
      .preprocess(
        (value) => (typeof value === "number" && value < MIN_TTL_SECONDS ? MIN_TTL_SECONDS : value),
        ttlSchema,
      )
      .default(86_400),
    deletedField: dotPathSchema.optional(),
    /** Values of `deletedField` that mean deleted besides `true` (e.g. "archived", 1); compared as JSON values. */
    deletedValues: z
      .array(z.union([z.string().max(256), z.number(), z.boolean(), z.null()]))
      .max(20)
      .optional(),
    pagination: paginationSchema.default({ strategy: "none" }),
    incremental: incrementalSchema.optional(),
    request: z
      .record(z.string(), z.unknown())
      .superRefine((value, ctx) => {
        const bad = firstUnstorableNumber(value);
        if (bad) ctx.addIssue({ code: "custom", path: bad.path, message: bad.message });
      })
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.syncType === "list" && config.extractionPath === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["extractionPath"],
        message: "is required for list syncs (e.g. $.members[*])",
      });
    }
    if (config.syncType === "object" && config.incremental !== undefined) {
      ctx.addIssue({ code: "custom", path: ["incremental"], message: "is only supported for list syncs" });
    }
  });
export type ReferenceDataConfig = z.infer<typeof referenceDataConfigSchema>;
export type ReferenceDataConfigInput = z.input<typeof referenceDataConfigSchema>;

const slugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/i, "must be a slug of letters, digits, '_', '.', '-' (max 128)");

/** Body of `PUT .../sources/{dataType}`. */
export const sourceInputSchema = z
  .object({ integrationSlug: slugSchema, actionSlug: slugSchema, referenceData: referenceDataConfigSchema })
  .strict();
export type SourceInput = z.infer<typeof sourceInputSchema>;

/** A stored source: how `dataType` of `integrationId` is synced for a tenant. */
export const sourceSchema = z.object({
  tenantId: idSchema,
  integrationId: idSchema,
  dataType: dataTypeSchema,
  integrationSlug: slugSchema,
  actionSlug: slugSchema,
  referenceData: referenceDataConfigSchema,
  /** `manual`: saved with PUT, never touched by discovery. `discovered`: from Waygate's action metadata. */
  origin: z.enum(["manual", "discovered"]).optional(),
  /** This service's own fields on a discovered source (PATCH `{ extensions }`), kept across rediscovery. */
  extensions: z.record(z.string(), z.unknown()).optional(),
  /** The config as discovery built it, before the extensions were merged in (discovered sources only). */
  discoveredConfig: z.record(z.string(), z.unknown()).optional(),
  /** Bumped on every save, so a partition stopped by a config error knows the source changed. */
  revision: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Source = z.infer<typeof sourceSchema>;

/** The fields searched by lookup: the configured lookup fields, else the name field; never a secret-looking path. */
export function lookupFieldsOf(config: ReferenceDataConfig): string[] {
  const configured = (config.lookupFields ?? []).filter((path) => !isSecretPath(path));
  if (configured.length > 0) return configured;
  return isSecretPath(config.nameField) ? [] : [config.nameField];
}

/** DynamoDB stores numbers of magnitude 1E-130 to 9.99E+125 (or 0); JSON can hold others. */
function firstUnstorableNumber(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; message: string } | undefined {
  if (typeof value === "number") {
    const magnitude = Math.abs(value);
    if (!Number.isFinite(value) || (magnitude !== 0 && (magnitude < 1e-130 || magnitude >= 1e126))) {
      return { path, message: `number ${value} is outside the range that can be stored (1E-130 to 9.99E+125)` };
    }
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      return { path, message: `integer ${value} is too large to be exact; send it as a string` };
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const bad = firstUnstorableNumber(child, [...path, Array.isArray(value) ? Number(key) : key]);
      if (bad) return bad;
    }
  }
  return undefined;
}
