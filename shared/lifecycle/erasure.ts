/**
 * Tenant erasure (DESIGN.md "Lifecycle"): `DELETE /api/v1/tenant` `{ "confirm": "<tenantId>" }` answers 202 and queues
 * an `erase` message; the worker deletes every row of the tenant a Scan page at a time (re-sending the message with the
 * Scan's position), reporting progress on the tenant's `ERASURE` row, which `GET /api/v1/tenant` shows. A first pass
 * keeps the API keys and the progress row (so the caller can watch it); a second pass removes everything, including
 * rows a sync still running during the first pass wrote. After it, the tenant's keys answer 401.
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { type Clock, iso } from "../domain/clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../domain/errors.js";
import type { EraseMessage } from "../domain/sync-message.js";
import type { Logger } from "../log.js";
import { isConditionFailed } from "../storage/ddb.js";
import { keys } from "../storage/keys.js";
import type { TableRows } from "./table-rows.js";

export const eraseBodySchema = z.object({
  confirm: z.string().min(1).describe("Must equal the caller's tenant ID"),
});
export const erasureSchema = z.object({
  status: z.enum(["queued", "erasing"]),
  phase: z.enum(["data", "final"]),
  requestedAt: z.string(),
  updatedAt: z.string(),
  rowsDeleted: z.number().int(),
});
export type Erasure = z.infer<typeof erasureSchema>;

/** Where erase messages go (the sync queue). */
export interface EraseQueue {
  send(message: EraseMessage): Promise<void>;
}

export function createSqsEraseQueue(sqs: SQSClient, queueUrl: string): EraseQueue {
  return {
    async send(message) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(message),
          MessageGroupId: message.tenantId,
        }),
      );
    },
  };
}

export interface ErasureDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  queue: EraseQueue | undefined;
  clock: Clock;
}

/** DELETE /tenant: records the request and queues the first pass. A second request while one runs returns it. */
export async function requestErasure(deps: ErasureDeps, tenantId: string, confirm: string): Promise<Erasure> {
  if (confirm !== tenantId) {
    throw new ValidationError("`confirm` must be your tenant ID: erasure deletes everything of the tenant", {
      field: "confirm",
    });
  }
  if (!deps.queue) throw new ConflictError("No queue is configured: erasure cannot run here");
  const now = iso(deps.clock.now());
  const erasure: Erasure = { status: "queued", phase: "data", requestedAt: now, updatedAt: now, rowsDeleted: 0 };
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: { ...keys.erasure(tenantId), entity: "erasure", ...erasure },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const current = await getErasure(deps, tenantId);
    if (current) return current;
    throw error;
  }
  await deps.queue.send({ v: 1, kind: "erase", tenantId, phase: "data" });
  return erasure;
}

/** GET /tenant: the running erasure, 404 when none (after one completes the caller's key is gone: 401). */
export async function getErasure(deps: Pick<ErasureDeps, "doc" | "tableName">, tenantId: string): Promise<Erasure> {
  const result = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: keys.erasure(tenantId), ConsistentRead: true }),
  );
  const parsed = erasureSchema.safeParse(result.Item ?? {});
  if (!result.Item || !parsed.success) throw new NotFoundError("No erasure of this tenant is running", { tenantId });
  return parsed.data;
}

/** Scan pages one erase message handles before handing over to the next. */
const PAGES_PER_MESSAGE = 25;

/** The worker's side: Scan pages of the tenant's rows, deleting them; re-sends itself until both passes are done. */
export async function runErasure(
  deps: ErasureDeps & { rows: TableRows; log: Logger },
  message: EraseMessage,
  remainingMs: () => number,
): Promise<{ deleted: number; done: boolean }> {
  const { tenantId, phase } = message;
  const tenantPk = keys.tenantPk(tenantId);
  const keep = (row: { PK: string; SK: string }) =>
    phase === "data" &&
    (row.PK.startsWith("KEY#") || (row.PK === tenantPk && (row.SK.startsWith("APIKEY#") || row.SK === "ERASURE")));
  let startKey = message.startKey;
  let deleted = 0;
  for (let page = 0; page < PAGES_PER_MESSAGE && remainingMs() > 10_000; page++) {
    const result = await deps.rows.eraseTenantPage(tenantId, startKey, keep);
    deleted += result.deleted;
    startKey = result.nextKey;
    if (!startKey) break;
  }
  await progress(deps, tenantId, phase, deleted);
  if (startKey) {
    await send(deps, { v: 1, kind: "erase", tenantId, phase, startKey });
    return { deleted, done: false };
  }
  if (phase === "data") {
    await send(deps, { v: 1, kind: "erase", tenantId, phase: "final" });
    return { deleted, done: false };
  }
  deps.log.info("tenant erased", { tenantId });
  return { deleted, done: true };
}

async function send(deps: ErasureDeps, message: EraseMessage): Promise<void> {
  if (!deps.queue) throw new Error("QUEUE_URL is not set: the erasure cannot continue");
  await deps.queue.send(message);
}

/** Adds to the progress row while it exists (the final pass deletes it, and it must not come back). */
async function progress(deps: ErasureDeps, tenantId: string, phase: "data" | "final", deleted: number) {
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.erasure(tenantId),
        UpdateExpression: "SET #status = :erasing, phase = :phase, updatedAt = :now ADD rowsDeleted :n",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":erasing": "erasing",
          ":phase": phase,
          ":now": iso(deps.clock.now()),
          ":n": deleted,
        },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}
