/** Structured JSON logs, one line per event, so CloudWatch Logs Insights can query them. */
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** A logger writing JSON lines to stdout (stderr for errors); `LOG_LEVEL` filters, `silent` mutes (tests). */
export function createLogger(base: Record<string, unknown> = {}, level: Level | "silent" = envLevel()): Logger {
  const write = (at: Level, message: string, fields?: Record<string, unknown>) => {
    if (level === "silent" || order[at] < order[level]) return;
    const line = JSON.stringify(
      { level: at, time: new Date().toISOString(), message, ...base, ...fields },
      errorReplacer,
    );
    (at === "error" ? process.stderr : process.stdout).write(`${line}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, level),
  };
}

function envLevel(): Level | "silent" {
  const value = process.env.LOG_LEVEL;
  return value === "debug" || value === "info" || value === "warn" || value === "error" || value === "silent"
    ? value
    : "info";
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export const logger = createLogger();
