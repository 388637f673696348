/**
 * Settings of `npm start`, from the environment (parsed once with zod, so a typo such as `PORT=abc` stops the stack
 * with a message naming the variable). Timeouts and batch sizes mirror the AWS stack
 * (infra/constructs/sync-pipeline.ts, rest-api.ts) so that what runs locally behaves like what is deployed.
 */
import { z } from "zod";
import { parseOrThrow } from "../../shared/domain/validate.js";

const port = z.coerce.number().int().min(0).max(65_535);

export const localEnvSchema = z.object({
  /** The API. */
  PORT: port.default(3000),
  /** A real Waygate gateway; unset = the embedded sample gateway. */
  GATEWAY_URL: z.string().url().optional(),
  /**
   * The demo tenant's Waygate API key, saved with PUT /gateway/credentials on first start (required with GATEWAY_URL;
   * the sample gateway's demo key otherwise). Every other tenant saves its own through the API.
   */
  DEMO_GATEWAY_KEY: z.string().min(1).optional(),
  /** Where data survives restarts (dynalite's LevelDB files, the demo key). */
  DATA_DIR: z.string().min(1).default(".local"),
  /** Seconds between planner runs (EventBridge runs it every 5 minutes in AWS). */
  SCHEDULE_SECONDS: z.coerce.number().min(1).max(86_400).default(60),
  DYNAMODB_PORT: port.default(8000),
  SQS_PORT: port.default(9324),
  SAMPLE_GATEWAY_PORT: port.default(8787),
  /** The sync worker's Lambda timeout (5 minutes in AWS); the queue's visibility timeout is 6 times it. */
  WORKER_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(900).default(300),
  /** Messages per worker invocation, processed concurrently (2 in AWS by default, at most 10). */
  WORKER_BATCH_SIZE: z.coerce.number().int().min(1).max(10).default(2),
  /** Worker invocations running at once. */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(10).default(2),
});
export type LocalEnv = z.infer<typeof localEnvSchema>;

/** The local stack's settings from `env`; a ValidationError names every bad variable. */
export function loadLocalEnv(env: NodeJS.ProcessEnv = process.env): LocalEnv {
  // An empty variable (`PORT=`) means "not set", as in most shells' intent.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  return parseOrThrow(localEnvSchema, present, "local stack settings");
}

/** What the AWS stack uses: API Lambdas stop at 25 s, inside API Gateway's 29 s; the planner has a minute. */
export const API_FUNCTION_TIMEOUT_MS = 25_000;
export const API_GATEWAY_TIMEOUT_MS = 29_000;
export const PLANNER_TIMEOUT_MS = 60_000;
