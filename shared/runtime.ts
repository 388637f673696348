/**
 * Module-scope singletons for every Lambda handler: config, DynamoDB and SQS clients, repositories, the sync queue,
 * secrets, clock and logger, built lazily on first use and then reused by every warm invocation. Handlers call
 * getRuntime() and pass what a service needs as arguments, so integration tests can call the same services with
 * dynalite and fauxqs clients. The local stack and handler tests set process.env, then call resetRuntime().
 */
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Config, loadConfig } from "./config.js";
import { cipherFromConfig, type KeyCipher } from "./credentials/cipher.js";
import { createTenantKeyProvider } from "./credentials/key-provider.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { InternalError } from "./domain/errors.js";
import type { EventPublisher } from "./events/events.js";
import { createConfiguredPublisher } from "./events/publishers.js";
import type { TenantKeyProvider } from "./gateway/client.js";
import type { Secrets } from "./gateway/secrets.js";
import { createLogger, type Logger } from "./log.js";
import { createMetrics, type ServiceMetrics } from "./metrics.js";
import { createDocumentClient } from "./storage/client.js";
import { createRepositories } from "./storage/index.js";
import type { Repositories } from "./storage/ports.js";
import { createSqsSyncQueue, type SyncQueue } from "./sync/sync-queue.js";

export interface Runtime {
  config: Config;
  doc: DynamoDBDocumentClient;
  repos: Repositories;
  sqs: SQSClient;
  /** The sync queue; undefined when QUEUE_URL is not set (then nothing can be enqueued). */
  queue: SyncQueue | undefined;
  dlqUrl?: string;
  /** The cursor HMAC key (Secrets Manager in AWS, env locally), cached. */
  secrets: () => Promise<Secrets>;
  /** Encrypts tenants' Waygate keys (KMS in AWS, a key file locally); undefined when neither is configured. */
  keyCipher: KeyCipher | undefined;
  /** Each tenant's Waygate key, decrypted and cached per warm container. */
  tenantKeys: TenantKeyProvider;
  clock: Clock;
  log: Logger;
  /** Where job and discovery events go (EventBridge in AWS, events.jsonl locally, nowhere when unconfigured). */
  events: EventPublisher;
  /** EMF metrics with the stage dimension; handlers publish them at the end of each invocation. */
  metrics: ServiceMetrics;
}

let current: Runtime | undefined;
let overrides: Partial<Runtime> = {};

/** The process's runtime, built on first call from loadConfig(). */
export function getRuntime(): Runtime {
  current ??= { ...buildRuntime(), ...overrides };
  return current;
}

/**
 * Forgets the runtime (and any overrides), so the next getRuntime() re-reads process.env. Tests and the local stack
 * call it after changing the environment. Clients of the old runtime are destroyed.
 */
export function resetRuntime(): void {
  if (current) {
    current.doc.destroy();
    current.sqs.destroy();
  }
  current = undefined;
  overrides = {};
}

/** Replaces parts of the runtime (tests inject a clock or a logger); applies to the next getRuntime(). */
export function overrideRuntime(parts: Partial<Runtime>): void {
  overrides = { ...overrides, ...parts };
  if (current) current = { ...current, ...parts };
}

/** Builds a runtime's `secrets` loader from its config (`createSecretsLoader` of shared/gateway/secrets.ts). */
export type SecretsFactory = (config: Config, options: { logger: Logger }) => () => Promise<Secrets>;
let secretsFactory: SecretsFactory | undefined;

/**
 * Gives the runtime its secrets loader. The runtime does not import it, because it brings the Secrets Manager client:
 * the functions that read a secret provide it (the API's middleware for cursors, the webhook deliverer), and the
 * others (the planner) carry no Secrets Manager client (test/infra/bundles.test.ts).
 */
export function provideSecrets(factory: SecretsFactory): void {
  secretsFactory = factory;
}

/** The loader, built on first use from the factory provided by then (a handler's imports provide it before). */
function lateSecrets(config: Config, log: Logger): () => Promise<Secrets> {
  let loader: (() => Promise<Secrets>) | undefined;
  return () => {
    if (!loader) {
      if (!secretsFactory) return Promise.reject(new InternalError("This function reads no secrets (provideSecrets)"));
      loader = secretsFactory(config, { logger: log });
    }
    return loader();
  };
}

function buildRuntime(): Runtime {
  // A copy, not process.env itself: loadConfig caches the process.env parse for the life of the process, and the
  // local stack and tests change the environment between runtimes.
  const config = loadConfig({ ...process.env });
  const log = createLogger({ service: "reference-data-sync" }, config.LOG_LEVEL);
  const doc = createDocumentClient({ endpoint: config.DYNAMODB_ENDPOINT, region: config.AWS_REGION });
  const sqsConfig: SQSClientConfig = { region: config.AWS_REGION };
  if (config.SQS_ENDPOINT) {
    sqsConfig.endpoint = config.SQS_ENDPOINT;
    sqsConfig.credentials = { accessKeyId: "local", secretAccessKey: "local" };
  }
  const sqs = new SQSClient(sqsConfig);
  const runtime: Runtime = {
    config,
    doc,
    repos: createRepositories({ doc, tableName: config.TABLE_NAME }),
    sqs,
    queue: config.QUEUE_URL ? createSqsSyncQueue(sqs, config.QUEUE_URL) : undefined,
    secrets: lateSecrets(config, log),
    keyCipher: undefined,
    tenantKeys: async () => {
      throw new Error("not built");
    },
    clock: systemClock,
    log,
    events: createConfiguredPublisher(config, sqs),
    metrics: createMetrics({ stage: config.STAGE }),
  };
  runtime.keyCipher = cipherFromConfig(config);
  runtime.tenantKeys = createTenantKeyProvider({
    tenants: runtime.repos.tenants,
    cipher: runtime.keyCipher,
    // Late-bound: tests override the runtime's clock after it is built.
    clock: { now: () => (current ?? runtime).clock.now() },
  });
  if (config.DLQ_URL) runtime.dlqUrl = config.DLQ_URL;
  return runtime;
}
