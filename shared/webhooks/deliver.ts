/**
 * Webhook delivery (DESIGN.md "Webhooks"): the deliverer function takes events from its queue (the bus rule's
 * target), finds the event's tenant's webhook and POSTs the event to it, signed `X-Signature: sha256=<hex HMAC of the
 * body>`. A failed send is retried by the queue with a growing visibility timeout (backoff) for about a day, then the
 * queue's DLQ takes it. Each send has a short timeout and the records of a batch go out concurrently, and the queue is
 * not the sync queue: a slow or dead endpoint delays neither syncs nor other tenants' deliveries.
 */
import { createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type ServiceEvent, serviceEventSchema } from "../events/events.js";
import type { Logger } from "../log.js";
import { checkTargetUrl, guardedLookup } from "./ssrf.js";
import {
  readWebhook,
  type SigningSecretDeps,
  type StoredWebhook,
  signingSecret,
  subscribed,
  type WebhookDeps,
} from "./webhooks.js";

export const DELIVERY_TIMEOUT_MS = 5_000;
/** Receives before the DLQ: with the backoff below, about a day of retries. */
export const DELIVERY_MAX_RECEIVES = 31;

/** The visibility timeout after the n-th failed receive: 30 s doubling, capped at an hour (≈ 24 h over 30 receives). */
export function deliveryBackoffSeconds(receiveCount: number, baseSeconds = 30): number {
  return Math.min(3_600, baseSeconds * 2 ** Math.max(0, receiveCount - 1));
}

export function signature(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export type DeliveryResult =
  | { status: "delivered"; httpStatus: number }
  | { status: "skipped"; reason: string }
  | { status: "failed"; reason: string };

export interface DeliverDeps extends Pick<WebhookDeps, "doc" | "tableName" | "targets">, SigningSecretDeps {
  log: Logger;
  timeoutMs?: number;
  /** DNS resolution (tests resolve names to chosen addresses); default node:dns lookup. */
  resolve?: Parameters<typeof guardedLookup>[1];
}

/** Parses a queue record's body: the event as EventBridge delivers it. */
export function parseEvent(body: string): ServiceEvent | undefined {
  try {
    const parsed = serviceEventSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function deliverEvent(deps: DeliverDeps, event: ServiceEvent): Promise<DeliveryResult> {
  const tenantId = event.detail.tenantId;
  let webhook: StoredWebhook | undefined;
  try {
    webhook = await readWebhook(deps, tenantId);
  } catch (error) {
    return { status: "failed", reason: `webhook unreadable: ${String(error)}` };
  }
  if (!webhook) return { status: "skipped", reason: "no webhook" };
  if (!subscribed(webhook, event["detail-type"])) return { status: "skipped", reason: "event type not subscribed" };
  const body = JSON.stringify(event);
  try {
    const secret = await signingSecret(deps, tenantId, webhook);
    const url = checkTargetUrl(webhook.url, deps.targets);
    const status = await post(
      url,
      body,
      {
        "content-type": "application/json",
        "user-agent": "reference-data-sync-webhooks/1",
        "x-signature": signature(body, secret),
        "x-event-id": event.id ?? "",
        "x-event-type": event["detail-type"],
      },
      deps,
    );
    if (status >= 200 && status < 300) return { status: "delivered", httpStatus: status };
    return { status: "failed", reason: `the endpoint answered ${status}` };
  } catch (error) {
    return { status: "failed", reason: error instanceof Error ? error.message : String(error) };
  }
}

function post(url: URL, body: string, headers: Record<string, string>, deps: DeliverDeps): Promise<number> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: guardedLookup(deps.targets, deps.resolve),
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    // The whole exchange, not only idle time, is bounded: a slow endpoint is a failed attempt.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}
