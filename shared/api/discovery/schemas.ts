/** The discovery routes' zod schemas: the report, a run's answer, and a discovered source's extensions. */
import { z } from "zod";
import { discoveryCountsSchema, discoveryStatusSchema } from "../../domain/discovery.js";

export const discoveryWireSchema = z.object({
  status: discoveryStatusSchema,
  lastRunAt: z.string().nullable(),
  nextRunAt: z.string().nullable(),
  ...discoveryCountsSchema.shape,
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type DiscoveryWire = z.infer<typeof discoveryWireSchema>;

export const discoveryRunSchema = z.object({ status: z.enum(["queued", "running"]), deduplicated: z.boolean() });

export const extensionsBodySchema = z.object({ extensions: z.record(z.string(), z.unknown()) }).strict();
