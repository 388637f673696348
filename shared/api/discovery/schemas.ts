/** The discovery routes' zod schemas: the report, a run's answer, and a discovered source's extensions. */
import { z } from "zod";
import { discoveryProblemSchema } from "../../domain/discovery.js";

export const discoveryWireSchema = z.object({
  status: z.enum(["never", "queued", "running", "completed", "failed"]),
  lastRunAt: z.string().nullable(),
  nextRunAt: z.string().nullable(),
  integrations: z.number().int(),
  sources: z.object({
    added: z.number().int(),
    updated: z.number().int(),
    removed: z.number().int(),
    unchanged: z.number().int(),
    shadowed: z.number().int(),
  }),
  connections: z.object({ enrolled: z.number().int(), paused: z.number().int(), revoked: z.number().int() }),
  problems: z.array(discoveryProblemSchema),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type DiscoveryWire = z.infer<typeof discoveryWireSchema>;

export const discoveryRunSchema = z.object({ status: z.enum(["queued", "running"]), deduplicated: z.boolean() });

export const extensionsBodySchema = z.object({ extensions: z.record(z.string(), z.unknown()) }).strict();
