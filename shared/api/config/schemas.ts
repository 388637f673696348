/**
 * The config routes' zod schemas: source and connection bodies (edge validation) and the wire shapes of their answers
 * (the OpenAPI document). Wire format: DESIGN.md "REST API".
 */
import { z } from "zod";
import { MIN_TTL_SECONDS, sourceInputSchema } from "../../domain/source-config.js";

export const sourceBodySchema = sourceInputSchema;

export const sourceWireSchema = z.object({
  dataType: z.string(),
  integrationSlug: z.string(),
  actionSlug: z.string(),
  referenceData: z.record(z.string(), z.unknown()),
  /** `discovered`: from Waygate's action metadata; `manual`: saved with PUT (shadows a discovered one). */
  origin: z.enum(["manual", "discovered"]),
  /** This service's own fields on a discovered source (PATCH), already merged into `referenceData`. */
  extensions: z.record(z.string(), z.unknown()).optional(),
  revision: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SourceWire = z.infer<typeof sourceWireSchema>;

export const connectionWireSchema = z.object({
  connectionId: z.string(),
  status: z.enum(["active", "revoked"]),
  isPrimary: z.boolean().optional(),
  origin: z.enum(["manual", "discovered"]).optional(),
  gatewayStatus: z.enum(["active", "error", "disabled"]).optional(),
  enrolledAt: z.string(),
  revokedAt: z.string().optional(),
  updatedAt: z.string(),
  /** Set by PATCH: paused (its partitions paused `manual`) and its TTL override. */
  paused: z.boolean().optional(),
  ttlSeconds: z.number().int().optional(),
});
export type ConnectionWire = z.infer<typeof connectionWireSchema>;

/** How the partitions implied by a change were handled. */
const partitionChangeSchema = z.object({
  /** `inline`: created now; `fanout`: a queue message creates them shortly. */
  mode: z.enum(["inline", "fanout", "none"]),
  created: z.number().int(),
  existing: z.number().int(),
  resumed: z.number().int(),
  paused: z.number().int(),
});
export type PartitionChange = z.infer<typeof partitionChangeSchema>;

export const putSourceResultSchema = z.object({ source: sourceWireSchema, partitions: partitionChangeSchema });
export const deleteSourceResultSchema = z.object({
  dataType: z.string(),
  deleted: z.literal(true),
  partitions: partitionChangeSchema,
});
export const connectionResultSchema = z.object({
  connection: connectionWireSchema,
  partitions: partitionChangeSchema,
});

export const connectionPatchSchema = z
  .object({
    paused: z.boolean().optional().describe("true: stop syncing (data stays served, stale); false: resume"),
    ttlSeconds: z
      .number()
      .int()
      .min(MIN_TTL_SECONDS)
      .max(365 * 86_400)
      .nullable()
      .optional()
      .describe("Overrides the sources' defaultTtlSeconds for this connection; null clears it"),
  })
  .strict()
  .refine((body) => body.paused !== undefined || body.ttlSeconds !== undefined, {
    message: "give `paused` or `ttlSeconds`",
  });
export type ConnectionPatch = z.output<typeof connectionPatchSchema>;

export const connectionSettingsResultSchema = z.object({
  connection: z.object({
    connectionId: z.string(),
    status: z.enum(["active", "revoked"]),
    paused: z.boolean(),
    ttlSeconds: z.number().int().nullable(),
    updatedAt: z.string(),
  }),
  partitions: z.object({ paused: z.number().int(), resumed: z.number().int(), rescheduled: z.number().int() }),
});
export type ConnectionSettingsResult = z.infer<typeof connectionSettingsResultSchema>;
