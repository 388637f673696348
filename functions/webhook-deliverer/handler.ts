/**
 * The webhook-deliverer Lambda: batches of events from the webhook queue (the target of the bus rule), each POSTed
 * to its tenant's webhook (shared/webhooks/deliver.ts). A failed send is reported as a batch item failure after its
 * visibility timeout was set to the backoff, so the queue retries it later and, after about a day, dead-letters it.
 */
import { ChangeMessageVisibilityCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createSecretsLoader } from "../../shared/gateway/secrets.js";
import { getRuntime, provideSecrets } from "../../shared/runtime.js";
import { deliverEvent, deliveryBackoffSeconds, parseEvent } from "../../shared/webhooks/deliver.js";

// Webhooks stored before their own secrets sign with a key derived from the stack's cursor secret.
provideSecrets(createSecretsLoader);

// Kept between warm invocations: a tenant's secret is decrypted (one KMS call) once, not for every event.
const secretCache = new Map<string, string>();

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const runtime = getRuntime();
  const { config } = runtime;
  const log = runtime.log.child({ fn: "webhook-deliverer" });
  const deps = {
    doc: runtime.doc,
    tableName: config.TABLE_NAME,
    cipher: runtime.keyCipher,
    secretCache,
    // Webhooks stored before their secrets were stored sign with a secret derived from the current cursor secret.
    legacySecretKey: async () => (await runtime.secrets()).cursorKeys.current,
    targets: config.WEBHOOK_TARGETS,
    log,
  };
  const failures = await Promise.all(
    event.Records.map(async (record) => {
      const parsed = parseEvent(record.body);
      if (!parsed) {
        log.error("not an event of this service; left to the DLQ", { messageId: record.messageId });
        return record;
      }
      const result = await deliverEvent(deps, parsed);
      if (result.status !== "failed") return undefined;
      const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      log.warn("webhook delivery failed; retried later", {
        tenantId: parsed.detail.tenantId,
        eventId: parsed.id,
        reason: result.reason,
        receives,
      });
      if (config.WEBHOOK_QUEUE_URL) {
        await runtime.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: config.WEBHOOK_QUEUE_URL,
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: deliveryBackoffSeconds(receives, config.WEBHOOK_BACKOFF_BASE_SECONDS),
            }),
          )
          .catch((error: unknown) => log.warn("could not set the retry backoff", { error }));
      }
      return record;
    }),
  );
  return {
    batchItemFailures: failures
      .filter((record) => record !== undefined)
      .map((record) => ({ itemIdentifier: record.messageId })),
  };
}
