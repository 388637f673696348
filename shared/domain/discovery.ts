/**
 * Discovery's state and report (DESIGN.md "Gateway credentials and discovery"): what the last run found in the
 * tenant's Waygate, and what it changed.
 */
import { z } from "zod";
import { idSchema } from "./ids.js";

export const discoveryStatusSchema = z.enum(["never", "queued", "running", "completed", "failed"]);
export type DiscoveryStatus = z.infer<typeof discoveryStatusSchema>;

export const discoveryProblemSchema = z.object({
  integrationId: z.string(),
  actionSlug: z.string().optional(),
  connectionId: z.string().optional(),
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
});
export type DiscoveryProblem = z.infer<typeof discoveryProblemSchema>;

export const discoveryCountsSchema = z.object({
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
});
export type DiscoveryCounts = z.infer<typeof discoveryCountsSchema>;

/** The tenant's discovery row. `report` is the last finished run's (completed or failed). */
export const discoveryStateSchema = z.object({
  tenantId: idSchema,
  status: discoveryStatusSchema,
  /** The run a `queued`/`running` row belongs to: a duplicate message for an older run does nothing. */
  runId: z.string().optional(),
  /** When a queued or running run must have moved on (a lost message or a dead worker brings it back). */
  deadlineAt: z.string().optional(),
  lastRunAt: z.string().optional(),
  nextRunAt: z.string().optional(),
  report: discoveryCountsSchema.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  updatedAt: z.string(),
});
export type DiscoveryState = z.infer<typeof discoveryStateSchema>;

export function emptyDiscoveryCounts(): DiscoveryCounts {
  return {
    integrations: 0,
    sources: { added: 0, updated: 0, removed: 0, unchanged: 0, shadowed: 0 },
    connections: { enrolled: 0, paused: 0, revoked: 0 },
    problems: [],
  };
}
