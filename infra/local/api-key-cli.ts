/**
 * Manages API keys in the table (`npm run api-key -- <command>`):
 *
 *   create --tenant <id> [--name <name>] [--scopes read,sync,admin]   prints the key ONCE (only its hash is stored)
 *   list   --tenant <id>                                              key IDs, names, scopes, created/revoked
 *   revoke --tenant <id> --key-id <id>                                stops working within the authorizer cache (60 s)
 *
 * Table: TABLE_NAME (default "reference-data"), at DYNAMODB_ENDPOINT (default the local stack's dynalite,
 * http://127.0.0.1:${DYNAMODB_PORT:-8000}); pass --aws to use the AWS account of the environment instead.
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { apiKeyScopeSchema } from "../../shared/domain/entities.js";
import { isAppError } from "../../shared/domain/errors.js";
import { tenantIdSchema } from "../../shared/domain/ids.js";
import { parseOrThrow } from "../../shared/domain/validate.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import type { ApiKeyRepository } from "../../shared/storage/ports.js";

const USAGE = `usage:
  npm run api-key -- create --tenant <id> [--name <name>] [--scopes read,sync,admin]
  npm run api-key -- list   --tenant <id>
  npm run api-key -- revoke --tenant <id> --key-id <id>
options: --aws (use AWS instead of the local dynalite); env TABLE_NAME, DYNAMODB_ENDPOINT, DYNAMODB_PORT, AWS_REGION`;

/** Scopes of a new key when --scopes is not given: reads and triggers, no configuration. */
export const DEFAULT_SCOPES = ["read", "sync"] as const;

const scopesSchema = z
  .string()
  .transform((value) => [...new Set(value.split(",").map((s) => s.trim()))].filter((s) => s !== ""))
  .pipe(z.array(apiKeyScopeSchema).min(1, "needs at least one of read, sync, admin"));

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => number;
}

/** Parses `--flag value` pairs (and bare `--aws`); unknown flags are an error. */
export function parseArgs(argv: string[]): { command: string | undefined; flags: Record<string, string> } {
  const [command, ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'`);
    const name = arg.slice(2);
    if (name === "aws") {
      flags.aws = "true";
      continue;
    }
    if (!["tenant", "name", "scopes", "key-id"].includes(name)) throw new Error(`unknown option '${arg}'`);
    const value = rest[i + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`option '${arg}' needs a value`);
    flags[name] = value;
    i++;
  }
  return { command, flags };
}

/** Runs one CLI command against `apiKeys`; returns the process exit code. */
export async function runApiKeyCommand(apiKeys: ApiKeyRepository, argv: string[], io: CliIo): Promise<number> {
  const now = io.now ?? Date.now;
  try {
    const { command, flags } = parseArgs(argv);
    const tenant = () => parseOrThrow(tenantIdSchema, flags.tenant, "--tenant");
    switch (command) {
      case "create": {
        const tenantId = tenant();
        const scopes =
          flags.scopes === undefined ? [...DEFAULT_SCOPES] : parseOrThrow(scopesSchema, flags.scopes, "--scopes");
        const name = flags.name ?? "cli";
        const { key, apiKey } = await apiKeys.create(tenantId, { name, scopes, now: now() });
        io.out(`API key for tenant ${tenantId} (keyId ${apiKey.keyId}, scopes ${apiKey.scopes.join(",")}):`);
        io.out(key);
        io.out("Store it now: it is shown only once. Use it as 'Authorization: Bearer <key>'.");
        return 0;
      }
      case "list": {
        const keys = await apiKeys.list(tenant());
        if (keys.length === 0) io.out("no API keys");
        for (const k of keys) {
          const state = k.revokedAt ? `revoked ${k.revokedAt}` : "active";
          io.out(`${k.keyId}\t${k.name}\t${k.scopes.join(",")}\tcreated ${k.createdAt}\t${state}`);
        }
        return 0;
      }
      case "revoke": {
        const tenantId = tenant();
        const keyId = flags["key-id"];
        if (!keyId) throw new Error("revoke needs --key-id");
        await apiKeys.revoke(tenantId, keyId, now());
        io.out(`revoked ${keyId} (the authorizer cache lets it work for up to 60 more seconds)`);
        return 0;
      }
      default:
        io.err(command === undefined ? USAGE : `unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    io.err(`error: ${isAppError(error) || error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && (error as { code?: unknown }).code === "ECONNREFUSED") {
      io.err("Is the local stack running (npm start)? Set DYNAMODB_ENDPOINT, or pass --aws for the AWS table.");
    }
    return isAppError(error) && error.status < 500 ? 1 : 2;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const aws = argv.includes("--aws");
  const endpoint = aws
    ? undefined
    : (process.env.DYNAMODB_ENDPOINT ?? `http://127.0.0.1:${process.env.DYNAMODB_PORT ?? "8000"}`);
  const doc = createDocumentClient({ endpoint, region: process.env.AWS_REGION ?? "us-east-1" });
  const repos = createRepositories({ doc, tableName: process.env.TABLE_NAME ?? "reference-data" });
  const code = await runApiKeyCommand(repos.apiKeys, argv, {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
  doc.destroy();
  process.exitCode = code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
