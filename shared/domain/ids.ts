import { z } from "zod";
import { ID_PATTERN } from "./id-rules.js";

export { ID_PATTERN, MAX_EXTERNAL_ID_LENGTH } from "./id-rules.js";

/** Data types that are path words of the REST API. */
export const RESERVED_DATA_TYPES: readonly string[] = ["sync", "context", "sources", "changes"];

/** The reserved connection for integration-level data; no connection header is sent for it. */
export const DEFAULT_CONNECTION_ID = "default";

export const idSchema = z
  .string()
  .regex(
    ID_PATTERN,
    "must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
  );

export const tenantIdSchema = idSchema;
export const integrationIdSchema = idSchema;
export const connectionIdSchema = idSchema;
export const dataTypeSchema = idSchema.refine((value) => !RESERVED_DATA_TYPES.includes(value), {
  message: `must not be one of the reserved words ${RESERVED_DATA_TYPES.join(", ")}`,
});

/** One (tenant, integration, connection, dataType): the unit of scheduling, leasing and syncing. */
export interface PartitionRef {
  tenantId: string;
  integrationId: string;
  connectionId: string;
  dataType: string;
}

export const partitionRefSchema = z.object({
  tenantId: tenantIdSchema,
  integrationId: integrationIdSchema,
  connectionId: connectionIdSchema,
  dataType: dataTypeSchema,
});

/** A readable, stable identifier of a partition for logs and the due index. */
/** Only the key fields of a partition (or anything carrying them), e.g. to pass a Partition where a ref is wanted. */
export function refOf(p: PartitionRef): PartitionRef {
  return { tenantId: p.tenantId, integrationId: p.integrationId, connectionId: p.connectionId, dataType: p.dataType };
}

export function partitionId(ref: PartitionRef): string {
  return `${ref.tenantId}/${ref.integrationId}/${ref.connectionId}/${ref.dataType}`;
}
