/**
 * Reads Waygate's three discovery listings through their cursors (`data.<name>[]`, `data.pagination { cursor,
 * hasMore }`), every page to the end. Any failure — a gateway error, a body of another shape, a repeated cursor —
 * throws: discovery then changes nothing.
 */
import { z } from "zod";
import type { GatewayLister } from "../gateway/client.js";
import { GatewayError } from "../gateway/errors.js";

const PAGE_LIMIT = "100";
const MAX_PAGES = 1_000;

const paginationSchema = z
  .object({ cursor: z.string().nullish(), hasMore: z.boolean().optional() })
  .partial()
  .nullish();

export const integrationSchema = z.looseObject({
  id: z.string(),
  slug: z.string(),
  status: z.string().optional(),
});
export const actionSchema = z.looseObject({
  slug: z.string(),
  httpMethod: z.string().optional(),
  metadata: z.unknown().optional(),
  paginationConfig: z.unknown().optional(),
});
export const connectionSchema = z.looseObject({
  id: z.string(),
  status: z.string().optional(),
  isPrimary: z.boolean().optional(),
});
export type WaygateIntegration = z.infer<typeof integrationSchema>;
export type WaygateActionRow = z.infer<typeof actionSchema>;
export type WaygateConnection = z.infer<typeof connectionSchema>;

/** Every element of one listing, all pages. */
export async function listAll<S extends z.ZodType>(
  gateway: GatewayLister,
  input: { tenantId: string; path: string; field: string; schema: S; deadline: number },
): Promise<z.output<S>[]> {
  const out: z.output<S>[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query: Record<string, string> = { limit: PAGE_LIMIT };
    if (cursor !== undefined) query.cursor = cursor;
    const data = await gateway.list({ tenantId: input.tenantId, path: input.path, query, deadline: input.deadline });
    const parsed = z.object({ [input.field]: z.array(input.schema), pagination: paginationSchema }).safeParse(data);
    if (!parsed.success) {
      throw new GatewayError(
        "retryable",
        "RESPONSE_VALIDATION_ERROR",
        `${input.path} did not answer with data.${input.field}[]: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      );
    }
    out.push(...(parsed.data[input.field] as z.output<S>[]));
    const pagination = parsed.data.pagination as z.infer<typeof paginationSchema>;
    const next = pagination?.cursor ?? undefined;
    if (!pagination?.hasMore || next === undefined || next === "") return out;
    if (seen.has(next)) {
      throw new GatewayError(
        "retryable",
        "PAGINATION_LOOP",
        `${input.path} repeated the cursor '${next.slice(0, 40)}'`,
      );
    }
    seen.add(next);
    cursor = next;
  }
  throw new GatewayError("retryable", "PAGINATION_LIMIT", `${input.path} has more than ${MAX_PAGES} pages`);
}
