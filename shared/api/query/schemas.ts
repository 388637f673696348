/**
 * The query routes' zod schemas: path and query-string parsing (the edge validation) and the wire shapes of their
 * answers (the OpenAPI document). Wire format: DESIGN.md "REST API".
 */
import { z } from "zod";
import { INTERNAL_ITEM_CONTENT, itemContentSchema, itemStatusSchema } from "../../domain/entities.js";
import { connectionIdSchema, DEFAULT_CONNECTION_ID, dataTypeSchema } from "../../domain/ids.js";

/** Query-string booleans: exactly `true` or `false`, so a typo is a 400 rather than a silent `false`. */
const booleanParam = z.enum(["true", "false"]).transform((value) => value === "true");

const spanningConnectionParam = connectionIdSchema
  .optional()
  .describe("Connection whose data is read; every served connection of the integration when omitted");

const readConnectionParam = connectionIdSchema
  .optional()
  .describe(
    `Connection whose data is read; when omitted, the integration's primary connection, else \`${DEFAULT_CONNECTION_ID}\``,
  );

const statusParam = z
  .enum(["active", "inactive", "deleted", "all"])
  .default("active")
  .describe("Item status to list; `all` for every status");

const searchParam = z
  .string()
  .max(200)
  .describe("Every word must start a word of the item's ID, name or lookup fields");

export const listQuerySchema = z.object({
  dataType: dataTypeSchema.optional(),
  connectionId: spanningConnectionParam,
  status: statusParam,
  search: searchParam.optional(),
  q: searchParam.optional().describe("Alias of `search`"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(4096).optional(),
  summary: booleanParam.default(false).describe("`true`: per-type counts instead of items"),
});
export type ListQuery = z.output<typeof listQuerySchema>;

export const byTypeQuerySchema = listQuerySchema.omit({ dataType: true, summary: true }).extend({
  part: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .optional()
    .describe("Object types larger than the response budget (4 MB): which part, 0-based; the response says `parts`"),
});
export type ByTypeQuery = z.output<typeof byTypeQuerySchema>;

export const lookupQuerySchema = z.object({
  query: z.string().trim().min(1).max(256).describe("The name, handle, email or ID to resolve"),
  connectionId: readConnectionParam,
  limit: z.coerce.number().int().min(1).max(50).default(5),
  includeInactive: booleanParam.default(false).describe("Also match inactive and deleted items"),
});
export type LookupQuery = z.output<typeof lookupQuerySchema>;

export const contextQuerySchema = z.object({
  connectionId: readConnectionParam,
  dataTypes: z
    .string()
    .max(2000)
    .transform((value) => [
      ...new Set(
        value
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== ""),
      ),
    ])
    .pipe(z.array(dataTypeSchema).max(50))
    .optional()
    .describe("Comma-separated data types; all of the connection's when omitted"),
  maxTokens: z.coerce.number().int().min(100).max(200_000).default(4000),
  query: z.string().max(1000).optional().describe("What the agent is about to do: matching items come first"),
});
export type ContextQuery = z.output<typeof contextQuerySchema>;

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

/**
 * The item content a client sees: every field of `itemContentSchema` but the internal ones, without the stored rows'
 * defaults (a served item always has the value).
 */
const servedContent = withoutDefaults(
  itemContentSchema.omit(
    Object.fromEntries(INTERNAL_ITEM_CONTENT.map((field) => [field, true])) as {
      [K in (typeof INTERNAL_ITEM_CONTENT)[number]]: true;
    },
  ).shape,
);

// The item's identity first and its place next (the order of DESIGN.md's examples), then the rest of its content.
const { externalId, name, ...servedRest } = servedContent;

export const referenceItemWireSchema = z.object({
  /** Stable and unique within the integration: `{connectionId}:{dataType}:{externalId}`. */
  id: z.string(),
  externalId,
  name,
  dataType: z.string(),
  connectionId: z.string(),
  status: itemStatusSchema,
  ...servedRest,
  /** The partition's last successful sync (not a per-item time). */
  lastSyncedAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
export type ReferenceItemWire = z.infer<typeof referenceItemWireSchema>;

export const objectWireSchema = z.object({
  dataType: z.string(),
  /** The whole object, or with `parts` one part: array elements or top-level keys (concatenate / merge them). */
  object: z.unknown(),
  syncedAt: z.string().nullable(),
  part: z.number().int().optional(),
  parts: z.number().int().optional(),
});
export type ObjectWire = z.infer<typeof objectWireSchema>;

/** One data type, summed over the connections read (the seed's summary entry, with a few more fields). */
export const summaryWireSchema = z.object({
  dataType: z.string(),
  /** Items of any status as of each connection's last successful sync. */
  totalCount: z.number().int(),
  /** Active items as of each connection's last successful sync. */
  activeCount: z.number().int(),
  /** The most recent successful sync among the connections read. */
  lastSyncedAt: z.string().nullable(),
  syncType: z.enum(["list", "object"]),
  /** How many connections were summed. */
  connectionCount: z.number().int(),
  /** `fresh` when every connection is, `never` when none has synced, else `stale`. */
  freshness: z.enum(["fresh", "stale", "never"]),
});
export type SummaryWire = z.infer<typeof summaryWireSchema>;

export const listResultSchema = z.union([z.array(referenceItemWireSchema), z.array(summaryWireSchema)]);
export const byTypeResultSchema = z.union([z.array(referenceItemWireSchema), objectWireSchema]);

export const lookupMatchWireSchema = z.object({
  id: z.string(),
  name: z.string(),
  score: z.number(),
  matchedField: z.string(),
  matchType: z.enum(["exact", "prefix", "fuzzy"]),
  metadata: z.record(z.string(), z.unknown()),
});
export const lookupResultSchema = z.object({
  matches: z.array(lookupMatchWireSchema),
  ambiguous: z.boolean(),
  lastSyncedAt: z.string().nullable(),
  stale: z.boolean(),
});
export type LookupResultWire = z.infer<typeof lookupResultSchema>;

export const contextResultSchema = z.object({
  referenceData: z.record(
    z.string(),
    z.array(z.object({ id: z.string(), name: z.string(), metadata: z.record(z.string(), z.unknown()).optional() })),
  ),
  objects: z.record(z.string(), z.unknown()),
  text: z.string(),
  truncated: z.record(z.string(), z.boolean()),
  estimatedTokens: z.number().int(),
});

export const healthResultSchema = z.object({ status: z.literal("ok"), time: z.string() });

type WithoutDefaults<S> = { [K in keyof S]: S[K] extends z.ZodDefault<infer Inner> ? Inner : S[K] };

function withoutDefaults<S extends z.ZodRawShape>(shape: S): WithoutDefaults<S> {
  return Object.fromEntries(
    Object.entries(shape).map(([field, schema]) => [field, schema instanceof z.ZodDefault ? schema.unwrap() : schema]),
  ) as WithoutDefaults<S>;
}
