/**
 * The environment, parsed once with zod. Handlers read config from here, never from process.env directly.
 * In AWS the stack sets these; locally `npm start` does.
 */
import { z } from "zod";
import { parseOrThrow } from "./domain/validate.js";

const optionalUrl = z.string().url().optional();

export const configSchema = z.object({
  TABLE_NAME: z.string().min(1).default("reference-data"),
  QUEUE_URL: z.string().min(1).optional(),
  DLQ_URL: z.string().min(1).optional(),
  /** Custom endpoints for the local stack and tests (dynalite, fauxqs). Unset in AWS. */
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  AWS_REGION: z.string().default("us-east-1"),
  GATEWAY_URL: z.string().url().optional(),
  /**
   * The stack's secret (JSON `{ "cursorSecret", "previousCursorSecret"? }`): only stack-wide things. There is no
   * deployment-wide gateway token: every gateway call carries the tenant's own key (GWKEY rows).
   */
  STACK_SECRET_ARN: z.string().optional(),
  /** HMAC key for pagination cursors; in AWS it comes from the stack's secret. */
  CURSOR_SECRET: z.string().min(16).optional(),
  /** The cursor key being rotated out (docs/RUNBOOK.md): still accepted, never used to sign. */
  PREVIOUS_CURSOR_SECRET: z.string().min(16).optional(),
  /** A gateway response larger than this fails its page with RESPONSE_TOO_LARGE (DESIGN.md "Size limits"). */
  GATEWAY_MAX_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
  /** Tenant quotas (DESIGN.md "quotas"); shared/quotas.ts enforces them. */
  QUOTA_INTEGRATIONS: z.coerce.number().int().min(1).default(100),
  QUOTA_SOURCES_PER_INTEGRATION: z.coerce.number().int().min(1).default(50),
  QUOTA_CONNECTIONS_PER_INTEGRATION: z.coerce.number().int().min(1).default(1_000),
  QUOTA_PARTITIONS: z.coerce.number().int().min(1).default(20_000),
  /** Per API key: requests per second and burst (shared/http/rate-limit.ts). */
  API_KEY_RATE_PER_SECOND: z.coerce.number().positive().default(20),
  API_KEY_BURST: z.coerce.number().int().min(1).default(50),
  /** The KMS key that encrypts tenants' Waygate keys (AWS). */
  CREDENTIALS_KMS_KEY_ID: z.string().min(1).optional(),
  /** The local key file that encrypts tenants' Waygate keys (local stack, tests). */
  CREDENTIALS_KEY_FILE: z.string().min(1).optional(),
  /** How often each tenant's discovery runs by itself. */
  DISCOVERY_INTERVAL_SECONDS: z.coerce.number().int().min(60).default(900),
  ALLOWED_ORIGINS: z.string().default(""),
  /** Events (DESIGN.md "Events"): the EventBridge bus in AWS; locally a JSON-lines file. Neither: no events. */
  EVENT_BUS_NAME: z.string().min(1).optional(),
  EVENTS_FILE: z.string().min(1).optional(),
  /** The queue the webhook deliverer consumes (the bus rule's target); the local stack sends events to it itself. */
  WEBHOOK_QUEUE_URL: z.string().min(1).optional(),
  /** Webhook targets: `https` only with the SSRF guard in AWS; `loopback` also allows http and 127.0.0.1 (local stack). */
  WEBHOOK_TARGETS: z.enum(["https", "loopback"]).default("https"),
  /** First retry delay of a failed webhook delivery; it doubles per attempt up to an hour (tests shorten it). */
  WEBHOOK_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  CHANGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  INACTIVE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  REVOKED_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** The deployment stage: the `stage` dimension of every metric (`-c stage=<name>` in CDK). */
  STAGE: z.string().min(1).default("local"),
});
export type Config = z.infer<typeof configSchema>;

let cached: Config | undefined;

/** The parsed environment (cached). Tests may pass an explicit env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (env === process.env && cached) return cached;
  const config = parseOrThrow(configSchema, env, "environment");
  if (env === process.env) cached = config;
  return config;
}
