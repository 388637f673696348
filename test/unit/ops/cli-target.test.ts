/**
 * `npm run ops` against a deployed stage: the resources come from the `cdk deploy --outputs-file` file of that stage's
 * stack (or from flags), and the commands reach exactly those. AWS is faked with aws-sdk-client-mock; the same
 * commands against a real local stack are in test/e2e/ops-cli.test.ts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PurgeQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../../infra/ops/cli.js";

const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => {
  sqs.reset();
  ddb.reset();
});

const PROD = {
  TableName: "ReferenceDataSync-prod-Table-ABC",
  QueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/prod-sync",
  DeadLetterQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dlq",
};

function outputsFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "rds-ops-")), "cdk-outputs.json");
  writeFileSync(
    file,
    JSON.stringify({
      "ReferenceDataSync-dev": {
        TableName: "dev-table",
        QueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/dev",
        DeadLetterQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/dev-dlq",
      },
      "ReferenceDataSync-prod": PROD,
    }),
  );
  return file;
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {});
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("ops against a deployed stage", () => {
  it("reads the stage's DLQ named in the outputs file", async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });

    const result = await run(["dlq", "list", "--json", "--stage", "prod", "--outputs", outputsFile()]);

    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toEqual([]);
    const receives = sqs.commandCalls(ReceiveMessageCommand);
    expect(receives.length).toBeGreaterThan(0);
    for (const call of receives) expect(call.args[0].input.QueueUrl).toBe(PROD.DeadLetterQueueUrl);
  });

  it("reads partitions from the stage's table and purges only its DLQ", async () => {
    ddb.on(GetCommand).resolves({});
    sqs.on(PurgeQueueCommand).resolves({});
    const file = outputsFile();

    const shown = await run([
      "partition",
      "show",
      "t1",
      "slack",
      "default",
      "users",
      "--stage",
      "prod",
      "--outputs",
      file,
    ]);
    const purged = await run(["dlq", "purge", "--yes", "--stage", "prod", "--outputs", file]);

    expect(shown.code).toBe(1);
    expect(shown.err).toContain("no such partition");
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.TableName).toBe(PROD.TableName);
    expect(purged.code).toBe(0);
    expect(sqs.commandCalls(PurgeQueueCommand).map((c) => c.args[0].input.QueueUrl)).toEqual([PROD.DeadLetterQueueUrl]);
  });

  it("refuses an outputs file without the stage's stack, naming it", async () => {
    const result = await run(["dlq", "list", "--stage", "qa", "--outputs", outputsFile()]);
    expect(result.code).toBe(2);
    expect(result.err).toContain("no outputs of ReferenceDataSync-qa");
  });
});
