/**
 * Structured JSON logs through Powertools for AWS Lambda's Logger (one JSON line per event, `level`, `message`,
 * `timestamp`, `service`, the X-Ray trace ID in AWS), behind the small interface the rest of the code imports, so call
 * sites never depend on Powertools directly. `child(fields)` adds keys to every later line: the worker and the API
 * put `requestId`, `tenantId` and `jobId` there, so every line of a request or a sync carries them.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";

type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** The service name on every log line and the `service` dimension of every metric. */
export const SERVICE_NAME = "reference-data-sync";

/** A logger writing JSON lines to stdout (stderr for errors); `LOG_LEVEL` filters, `silent` mutes (tests). */
export function createLogger(base: Record<string, unknown> = {}, level: Level | "silent" = envLevel()): Logger {
  const { service, ...keys } = base;
  const powertools = new PowertoolsLogger({
    serviceName: typeof service === "string" ? service : SERVICE_NAME,
    logLevel: level === "silent" ? "SILENT" : (level.toUpperCase() as Uppercase<Level>),
    persistentKeys: keys,
  });
  return wrap(powertools);
}

function wrap(powertools: PowertoolsLogger): Logger {
  // Powertools merges an object argument into the line; errors anywhere in it are serialised by its JSON replacer.
  const at =
    (method: "debug" | "info" | "warn" | "error") =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields === undefined) powertools[method](message);
      else powertools[method](message, fields);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => wrap(powertools.createChild({ persistentKeys: fields })),
  };
}

function envLevel(): Level | "silent" {
  const value = process.env.LOG_LEVEL;
  return value === "debug" || value === "info" || value === "warn" || value === "error" || value === "silent"
    ? value
    : "info";
}

export const logger = createLogger();
