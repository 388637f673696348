/**
 * `npm run ops -- <command>`: operate the local stack (default) or a deployed stage (`--stage <name> --outputs
 * cdk-outputs.json`, with the AWS credentials of the shell). See docs/RUNBOOK.md.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GetQueueUrlCommand, SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { z } from "zod";
import {
  connectionIdSchema,
  dataTypeSchema,
  integrationIdSchema,
  type PartitionRef,
  tenantIdSchema,
} from "../../shared/domain/ids.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import { LOCAL_QUEUE_NAME, LOCAL_TABLE_NAME } from "../local/stack.js";
import { DEFAULT_STAGE, stackIdFor } from "../reference-data-stack.js";
import {
  listDeadLetters,
  type OpsTarget,
  purgeDeadLetters,
  redriveDeadLetters,
  reindexPausedIndex,
  resumePartition,
  resyncPartition,
  showDeadLetter,
  showPartition,
  showTenant,
} from "./ops.js";

export const USAGE = `Usage: npm run ops -- <command> [options]

Commands
  dlq list [--max N]                       dead letters: id, sent, reason, what the message is
  dlq show <messageId>                     one dead letter with its body
  dlq redrive [--id <messageId>]... [--all] send valid dead letters back to the sync queue
  dlq purge --yes                          delete every dead letter
  partition show <tenant> <integration> <connection> <dataType>
  partition resync <tenant> <integration> <connection> <dataType> [--mode full|incremental]
  partition resume <tenant> <integration> <connection> <dataType>
  partition reindex-paused                 once a deploy that ran beside a version without the paused index (GSI2)
                                           has finished: add missing entries, repair or remove wrong ones
                                           (one Scan of the whole table; alias: backfill-paused)
  tenant show <tenant> --integration <id> [--integration <id>]...

Target (default: the local stack of \`npm start\`)
  --dynamodb-endpoint URL --sqs-endpoint URL   the local stack on other ports
  --stage NAME --outputs FILE                  a deployed stage: the outputs file of \`cdk deploy --outputs-file\`
  --table NAME --queue-url URL --dlq-url URL   a deployed stage named by hand (or TABLE_NAME, QUEUE_URL, DLQ_URL)
  --region REGION                              default: AWS_REGION, else the queue URL's
  --json                                       print JSON only`;

/** Where printed lines go (the tests capture them). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const partitionRefSchema = z.object({
  tenantId: tenantIdSchema,
  integrationId: integrationIdSchema,
  connectionId: connectionIdSchema,
  dataType: dataTypeSchema,
});

const options = {
  max: { type: "string" },
  id: { type: "string", multiple: true },
  all: { type: "boolean" },
  yes: { type: "boolean" },
  mode: { type: "string" },
  integration: { type: "string", multiple: true },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "dynamodb-endpoint": { type: "string" },
  "sqs-endpoint": { type: "string" },
  stage: { type: "string" },
  outputs: { type: "string" },
  table: { type: "string" },
  "queue-url": { type: "string" },
  "dlq-url": { type: "string" },
  region: { type: "string" },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>["values"];

class UsageError extends Error {}

/** Runs one command; resolves to the process exit code (0 done, 1 not found or refused, 2 usage). */
export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help || positionals.length === 0) {
    io.out(USAGE);
    return flags.help ? 0 : 2;
  }
  let target: (OpsTarget & { close(): void }) | undefined;
  try {
    target = await resolveTarget(flags, env);
    return await run(positionals, flags, target, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`ops: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return 1;
  } finally {
    target?.close();
  }
}

async function run(positionals: string[], flags: Flags, target: OpsTarget, io: Io): Promise<number> {
  const [noun, verb, ...args] = positionals;
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  switch (`${noun} ${verb}`) {
    case "dlq list": {
      const letters = await listDeadLetters(target, Number(flags.max ?? 100));
      if (flags.json) print(letters.map(({ body: _body, ...rest }) => rest));
      else {
        io.out(`${letters.length} dead letter(s)`);
        for (const l of letters) {
          io.out(
            `${l.messageId}  ${l.sentAt ?? "?"}  ${l.valid ? "valid  " : "invalid"}  ${l.summary}  ${l.reason ?? "(redriven by SQS after 5 receives)"}`,
          );
        }
      }
      return 0;
    }
    case "dlq show": {
      const letter = await showDeadLetter(target, required(args[0], "messageId"));
      if (!letter) {
        io.err(`no dead letter ${args[0]}`);
        return 1;
      }
      print(letter);
      return 0;
    }
    case "dlq redrive": {
      if (!flags.all && (flags.id ?? []).length === 0)
        throw new UsageError("dlq redrive needs --id <messageId> or --all");
      const result = await redriveDeadLetters(target, flags.all ? {} : { messageIds: flags.id ?? [] });
      print(result);
      return 0;
    }
    case "dlq purge": {
      if (!flags.yes) throw new UsageError("dlq purge deletes every dead letter: add --yes");
      await purgeDeadLetters(target);
      io.out("purged");
      return 0;
    }
    case "partition show": {
      const report = await showPartition(target, partitionRef(args));
      if (!report) {
        io.err("no such partition");
        return 1;
      }
      print(report);
      return 0;
    }
    case "partition resync": {
      const mode = flags.mode ?? "full";
      if (mode !== "full" && mode !== "incremental") throw new UsageError("--mode is full or incremental");
      const ref = partitionRef(args);
      const partition = await target.repos.partitions.get(ref);
      if (!partition) {
        io.err("no such partition");
        return 1;
      }
      if (partition.status === "paused") {
        io.err(
          `the partition is paused (${partition.pauseReason ?? "manual"}): fix the cause, then \`partition resume\``,
        );
        return 1;
      }
      print({ queued: await resyncPartition(target, ref, mode) });
      return 0;
    }
    case "partition resume": {
      const partition = await resumePartition(target, partitionRef(args));
      print({ resumed: partition });
      return 0;
    }
    case "partition reindex-paused":
    case "partition backfill-paused": {
      print(await reindexPausedIndex(target));
      return 0;
    }
    case "tenant show": {
      const integrations = flags.integration ?? [];
      if (integrations.length === 0) throw new UsageError("tenant show needs --integration <id> (one or more)");
      print(await showTenant(target, required(args[0], "tenant"), integrations));
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${positionals.join(" ")}'`);
  }
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing ${what}`);
  return value;
}

function partitionRef(args: string[]): PartitionRef {
  const [tenantId, integrationId, connectionId, dataType] = args;
  const parsed = partitionRefSchema.safeParse({ tenantId, integrationId, connectionId, dataType });
  if (!parsed.success) throw new UsageError("a partition is <tenant> <integration> <connection> <dataType>");
  return parsed.data;
}

async function resolveTarget(flags: Flags, env: NodeJS.ProcessEnv): Promise<OpsTarget & { close(): void }> {
  const deployed =
    flags.outputs !== undefined ||
    flags.table !== undefined ||
    (flags["dynamodb-endpoint"] === undefined && env.TABLE_NAME !== undefined && env.QUEUE_URL !== undefined);
  if (deployed) {
    const outputs = flags.outputs === undefined ? {} : stackOutputs(flags.outputs, flags.stage ?? DEFAULT_STAGE);
    const tableName = flags.table ?? outputs.TableName ?? env.TABLE_NAME;
    const queueUrl = flags["queue-url"] ?? outputs.QueueUrl ?? env.QUEUE_URL;
    const dlqUrl = flags["dlq-url"] ?? outputs.DeadLetterQueueUrl ?? env.DLQ_URL;
    if (!tableName || !queueUrl || !dlqUrl) {
      throw new UsageError(
        "a deployed stage needs its table, queue URL and DLQ URL (--outputs, or --table/--queue-url/--dlq-url)",
      );
    }
    const region = flags.region ?? env.AWS_REGION ?? /sqs\.([a-z0-9-]+)\./.exec(queueUrl)?.[1] ?? "us-east-1";
    const doc = createDocumentClient({ region });
    const sqs = new SQSClient({ region });
    return {
      repos: createRepositories({ doc, tableName }),
      table: { doc, tableName },
      sqs,
      queueUrl,
      dlqUrl,
      now: () => Date.now(),
      close: () => {
        doc.destroy();
        sqs.destroy();
      },
    };
  }
  const dynamoEndpoint = flags["dynamodb-endpoint"] ?? `http://127.0.0.1:${env.DYNAMODB_PORT || 8000}`;
  const sqsEndpoint = flags["sqs-endpoint"] ?? `http://127.0.0.1:${env.SQS_PORT || 9324}`;
  const doc = createDocumentClient({ endpoint: dynamoEndpoint });
  const sqsConfig: SQSClientConfig = {
    region: "us-east-1",
    endpoint: sqsEndpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  };
  const sqs = new SQSClient(sqsConfig);
  const url = async (name: string) => {
    const found = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!found.QueueUrl) throw new Error(`no queue ${name} at ${sqsEndpoint}: is \`npm start\` running?`);
    return found.QueueUrl;
  };
  const tableName = flags.table ?? LOCAL_TABLE_NAME;
  return {
    repos: createRepositories({ doc, tableName }),
    table: { doc, tableName },
    sqs,
    queueUrl: await url(LOCAL_QUEUE_NAME),
    dlqUrl: await url(`${LOCAL_QUEUE_NAME}-dlq`),
    now: () => Date.now(),
    close: () => {
      doc.destroy();
      sqs.destroy();
    },
  };
}

/** TableName, QueueUrl and DeadLetterQueueUrl of the stage's stack in a `cdk deploy --outputs-file` file. */
function stackOutputs(file: string, stage: string): Record<string, string | undefined> {
  const all = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, string>>;
  const outputs = all[stackIdFor(stage)];
  if (!outputs) throw new UsageError(`${file} has no outputs of ${stackIdFor(stage)}`);
  return outputs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
