/**
 * A tenant's webhook (DESIGN.md "Webhooks"): `PUT /api/v1/webhooks` `{ url, events? }` stores it and returns its signing
 * secret once; `GET` shows it without the secret; `DELETE` removes it. The secret is random, drawn by each PUT (so a
 * new PUT is a new secret), and stored encrypted with the credentials cipher (shared/credentials/cipher.ts: a KMS data
 * key bound to the tenant in AWS), so a copy of the table reveals no secret and rotating the stack secret changes none.
 *
 * Webhooks stored before secrets were stored keep a nonce instead: their secret is an HMAC of the tenant and the nonce
 * under the current cursor secret. Such a secret changes when the stack secret is rotated, so docs/RUNBOOK.md has them
 * PUT again (a stored secret) before a rotation.
 */
import { createHmac, randomBytes } from "node:crypto";
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { KeyCipher } from "../credentials/cipher.js";
import { type Clock, iso } from "../domain/clock.js";
import { InternalError, NotFoundError, ValidationError } from "../domain/errors.js";
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

const storedSchema = webhookWireSchema.extend({
  /** The signing secret, encrypted with the credentials cipher. */
  secretCiphertext: z.string().min(1).optional(),
  /** Legacy rows only (no secretCiphertext): the nonce the secret derives from. */
  nonce: z.string().optional(),
});
export type StoredWebhook = z.infer<typeof storedSchema>;

export const ALL_EVENT_TYPES = eventTypeSchema.options;

/**
 * The cipher purpose of signing secrets: in the KMS encryption context, so the deliverer's Decrypt grant is limited to
 * them and cannot open a tenant's Waygate key.
 */
export const WEBHOOK_SECRET_PURPOSE = "webhook-signing";

export interface WebhookDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  /** Encrypts signing secrets (KMS in AWS, a key file locally); a PUT without one is an InternalError. */
  cipher: KeyCipher | undefined;
  targets: WebhookTargets;
}

/** What reading a webhook's signing secret needs: the cipher, and for legacy rows the current cursor secret. */
export interface SigningSecretDeps {
  cipher: KeyCipher | undefined;
  legacySecretKey: () => Promise<string>;
  /** Decrypted secrets by tenant and ciphertext (a new PUT is a new ciphertext): one KMS call per secret, not per event. */
  secretCache?: Map<string, string>;
}

/** Entries a deliverer keeps in its secret cache; past that the oldest goes. */
const SECRET_CACHE_ENTRIES = 1_000;

/** The secret of a webhook stored before secrets were stored: derived from its nonce under the cursor secret. */
export function legacyWebhookSecret(key: string, tenantId: string, nonce: string): string {
  return `whsec_${createHmac("sha256", `webhook-signing:${key}`).update(`${tenantId}\u0000${nonce}`).digest("base64url")}`;
}

/** The signing secret of a stored webhook: its stored secret decrypted, or a legacy row's derived one. */
export async function signingSecret(
  deps: SigningSecretDeps,
  tenantId: string,
  webhook: StoredWebhook,
): Promise<string> {
  if (webhook.secretCiphertext !== undefined) {
    if (!deps.cipher) throw new InternalError("No key cipher is configured to read webhook secrets");
    const cacheKey = `${tenantId}\u0000${webhook.secretCiphertext}`;
    const cached = deps.secretCache?.get(cacheKey);
    if (cached !== undefined) return cached;
    const secret = await deps.cipher.decrypt(tenantId, webhook.secretCiphertext, WEBHOOK_SECRET_PURPOSE);
    if (deps.secretCache) {
      if (deps.secretCache.size >= SECRET_CACHE_ENTRIES) {
        const oldest = deps.secretCache.keys().next().value;
        if (oldest !== undefined) deps.secretCache.delete(oldest);
      }
      deps.secretCache.set(cacheKey, secret);
    }
    return secret;
  }
  if (webhook.nonce === undefined) throw new InternalError("The stored webhook has no signing secret; PUT it again");
  return legacyWebhookSecret(await deps.legacySecretKey(), tenantId, webhook.nonce);
}

export async function putWebhook(
  deps: WebhookDeps,
  tenantId: string,
  body: WebhookBody,
): Promise<WebhookWire & { secret: string }> {
  checkTargetUrl(body.url, deps.targets);
  if (!deps.cipher) {
    throw new InternalError("No key cipher is configured (CREDENTIALS_KMS_KEY_ID or CREDENTIALS_KEY_FILE)");
  }
  const now = iso(deps.clock.now());
  const existing = await readWebhook(deps, tenantId);
  const secret = `whsec_${randomBytes(32).toString("base64url")}`;
  const wire: WebhookWire = {
    url: body.url,
    events: body.events ? [...new Set(body.events)] : [...ALL_EVENT_TYPES],
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const stored: StoredWebhook = {
    ...wire,
    secretCiphertext: await deps.cipher.encrypt(tenantId, secret, WEBHOOK_SECRET_PURPOSE),
  };
  // A replacing PUT drops a legacy row's nonce: the stored secret is the webhook's secret from now on.
  await deps.doc.send(
    new PutCommand({ TableName: deps.tableName, Item: { ...keys.webhook(tenantId), entity: "webhook", ...stored } }),
  );
  return { ...wire, secret };
}

export async function getWebhook(deps: Pick<WebhookDeps, "doc" | "tableName">, tenantId: string): Promise<WebhookWire> {
  const stored = await readWebhook(deps, tenantId);
  if (!stored) throw new NotFoundError("No webhook is configured for this tenant");
  const { nonce: _nonce, secretCiphertext: _secret, ...wire } = stored;
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
