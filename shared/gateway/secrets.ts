/**
 * The stack-wide secrets: the cursor keys (`cursorSecret`, and `previousCursorSecret` while a rotation's overlap window
 * is open: docs/RUNBOOK.md). In AWS they live in the stack's Secrets Manager secret (STACK_SECRET_ARN), read once and
 * cached so a warm Lambda does not call Secrets Manager per request, yet picks up a rotation within the TTL. Locally
 * they come from the environment (CURSOR_SECRET, PREVIOUS_CURSOR_SECRET). Gateway keys are per tenant
 * (shared/credentials); webhook signing secrets are per webhook (shared/webhooks).
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";
import type { Config } from "../config.js";
import { type Clock, systemClock } from "../domain/clock.js";
import { InternalError } from "../domain/errors.js";
import type { CursorKeys } from "../http/cursor.js";
import { logger as defaultLogger, type Logger } from "../log.js";

export interface Secrets {
  cursorKeys: CursorKeys;
}

export interface SecretsLoaderOptions {
  client?: SecretsManagerClient;
  /** How long a secret read from Secrets Manager is reused (default 5 minutes). */
  ttlMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Dev defaults are refused inside Lambda, where a missing secret is a deployment error. */
  inLambda?: boolean;
}

/** Used only off AWS when CURSOR_SECRET is unset: cursors then are signed, but with a publicly known key. */
export const DEV_CURSOR_SECRET = "local-dev-cursor-secret-not-for-production";
/** How long a value read from Secrets Manager is reused: a rotation's overlap window must outlast it. */
export const SECRETS_TTL_MS = 5 * 60_000;

const secretSchema = z.object({
  cursorSecret: z.string().min(16),
  /** The key being rotated out: cursors it signed are still accepted, none is signed with it. */
  previousCursorSecret: z.string().min(16).optional(),
});

/**
 * Returns a loader of the cursor keys. With STACK_SECRET_ARN it reads that secret's JSON and caches it for `ttlMs`
 * (concurrent callers share one request; a failure is not cached). Without it, it reads CURSOR_SECRET and
 * PREVIOUS_CURSOR_SECRET, falling back to a dev value with a warning (never inside Lambda).
 */
export function createSecretsLoader(config: Config, options: SecretsLoaderOptions = {}): () => Promise<Secrets> {
  const log = options.logger ?? defaultLogger;
  const inLambda = options.inLambda ?? process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
  const arn = config.STACK_SECRET_ARN;

  if (arn === undefined || arn === "") {
    if (inLambda && config.CURSOR_SECRET === undefined) {
      return () => Promise.reject(new InternalError("STACK_SECRET_ARN (or CURSOR_SECRET) must be set"));
    }
    let warned = false;
    return async () => {
      if (!warned && config.CURSOR_SECRET === undefined) {
        warned = true;
        log.warn("using a development cursor secret: set CURSOR_SECRET outside local development");
      }
      return {
        cursorKeys: cursorKeys(config.CURSOR_SECRET ?? DEV_CURSOR_SECRET, config.PREVIOUS_CURSOR_SECRET),
      };
    };
  }

  const clock = options.clock ?? systemClock;
  const ttlMs = options.ttlMs ?? SECRETS_TTL_MS;
  let client = options.client;
  let cached: { value: Secrets; expiresAt: number } | undefined;
  let inFlight: Promise<Secrets> | undefined;

  const fetchSecret = async (): Promise<Secrets> => {
    client ??= new SecretsManagerClient({ region: config.AWS_REGION });
    let text: string | undefined;
    try {
      const result = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      text = result.SecretString;
    } catch (cause) {
      throw new InternalError("could not read the stack secret", { secret: arn }, { cause });
    }
    let json: unknown;
    try {
      json = text === undefined ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = secretSchema.safeParse(json);
    if (!parsed.success) {
      // Never echo the secret's content: only which fields are wrong.
      const fields = parsed.error.issues.map((issue) => issue.path.join(".") || "(root)");
      throw new InternalError(
        `the stack secret must be JSON { "cursorSecret" (16+ chars), "previousCursorSecret"? (16+ chars) }; invalid: ${fields.join(", ")}`,
        { secret: arn },
      );
    }
    return { cursorKeys: cursorKeys(parsed.data.cursorSecret, parsed.data.previousCursorSecret) };
  };

  return async () => {
    if (cached && clock.now() < cached.expiresAt) return cached.value;
    inFlight ??= fetchSecret()
      .then((value) => {
        cached = { value, expiresAt: clock.now() + ttlMs };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

function cursorKeys(current: string, previous: string | undefined): CursorKeys {
  return previous === undefined ? { current } : { current, previous };
}
