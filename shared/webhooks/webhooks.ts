/**
 * A tenant's webhook (DESIGN.md "Webhooks"): `PUT /api/v1/webhooks` `{ url, events? }` stores it and returns its signing
 * secret once; `GET` shows it without the secret; `DELETE` removes it. The secret is never stored: the row keeps a
 * random nonce, and the secret is an HMAC of the tenant and that nonce under the deployment's key (the cursor secret's
 * domain-separated derivative), so a copy of the table reveals no secret. A new PUT draws a new nonce (a new secret).
 */
import { createHmac, randomBytes } from "node:crypto";
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { type Clock, iso } from "../domain/clock.js";
import { NotFoundError, ValidationError } from "../domain/errors.js";
import { type EventType, eventTypeSchema } from "../events/events.js";
import { keys } from "../storage/keys.js";
import { checkTargetUrl, type WebhookTargets } from "./ssrf.js";

export const webhookBodySchema = z
  .object({
    url: z.string().url().max(2048).describe("https URL that receives the tenant's events as signed POSTs"),
    events: z.array(eventTypeSchema).min(1).optional().describe("Event types to send; default: all"),
  })
  .strict();
export type WebhookBody = z.output<typeof webhookBodySchema>;

export const webhookWireSchema = z.object({
  url: z.string(),
  events: z.array(eventTypeSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const webhookCreatedSchema = webhookWireSchema.extend({
  secret: z.string().describe("The signing secret: shown only in this response. X-Signature is sha256=HMAC(body)"),
});
export type WebhookWire = z.infer<typeof webhookWireSchema>;

const storedSchema = webhookWireSchema.extend({ nonce: z.string() });
export type StoredWebhook = z.infer<typeof storedSchema>;

export const ALL_EVENT_TYPES = eventTypeSchema.options;

export interface WebhookDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  /** The deployment key the per-tenant secrets derive from. */
  secretKey: () => Promise<string>;
  targets: WebhookTargets;
}

/** The signing secret of a stored webhook. */
export function webhookSecret(key: string, tenantId: string, nonce: string): string {
  return `whsec_${createHmac("sha256", `webhook-signing:${key}`).update(`${tenantId}\u0000${nonce}`).digest("base64url")}`;
}

export async function putWebhook(
  deps: WebhookDeps,
  tenantId: string,
  body: WebhookBody,
): Promise<WebhookWire & { secret: string }> {
  checkTargetUrl(body.url, deps.targets);
  const now = iso(deps.clock.now());
  const existing = await readWebhook(deps, tenantId);
  const stored: StoredWebhook = {
    url: body.url,
    events: body.events ? [...new Set(body.events)] : [...ALL_EVENT_TYPES],
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    nonce: randomBytes(16).toString("base64url"),
  };
  await deps.doc.send(
    new PutCommand({ TableName: deps.tableName, Item: { ...keys.webhook(tenantId), entity: "webhook", ...stored } }),
  );
  const { nonce, ...wire } = stored;
  return { ...wire, secret: webhookSecret(await deps.secretKey(), tenantId, nonce) };
}

export async function getWebhook(deps: Pick<WebhookDeps, "doc" | "tableName">, tenantId: string): Promise<WebhookWire> {
  const stored = await readWebhook(deps, tenantId);
  if (!stored) throw new NotFoundError("No webhook is configured for this tenant");
  const { nonce: _nonce, ...wire } = stored;
  return wire;
}

export async function deleteWebhook(
  deps: Pick<WebhookDeps, "doc" | "tableName">,
  tenantId: string,
): Promise<{ deleted: true }> {
  const result = await deps.doc.send(
    new DeleteCommand({ TableName: deps.tableName, Key: keys.webhook(tenantId), ReturnValues: "ALL_OLD" }),
  );
  if (!result.Attributes) throw new NotFoundError("No webhook is configured for this tenant");
  return { deleted: true };
}

export async function readWebhook(
  deps: Pick<WebhookDeps, "doc" | "tableName">,
  tenantId: string,
): Promise<StoredWebhook | undefined> {
  const result = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: keys.webhook(tenantId) }));
  if (!result.Item) return undefined;
  const parsed = storedSchema.safeParse(result.Item);
  if (!parsed.success) throw new ValidationError("The stored webhook is unreadable; PUT it again");
  return parsed.data;
}

export function subscribed(webhook: Pick<StoredWebhook, "events">, type: EventType): boolean {
  return webhook.events.includes(type);
}
