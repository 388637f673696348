/**
 * What a newcomer sees on `npm start`: the first start seeds the demo and prints a key and curl commands; every
 * printed command is run here exactly as printed, in a shell, and must answer successfully; a restart prints the same
 * key again and the data is still there.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import { localApi } from "./support/local-api.js";

const run = promisify(execFile);

/** The environment of a fresh terminal: nothing the stack set in this process for its handlers. */
function terminalEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["TABLE_NAME", "DYNAMODB_ENDPOINT", "SQS_ENDPOINT", "QUEUE_URL", "DLQ_URL", "DYNAMODB_PORT"]) {
    delete env[name];
  }
  return env;
}

/** Runs one printed line in a POSIX shell from the repository root, as a user pasting it would. */
async function shell(line: string): Promise<string> {
  const { stdout } = await run("sh", ["-c", line], { cwd: process.cwd(), env: terminalEnv(), timeout: 60_000 });
  return stdout;
}

describe("npm start demo", () => {
  let dataDir: string;
  let stack: LocalStack;

  const start = () =>
    startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      scheduleSeconds: 3600,
      workerTimeoutSeconds: 60,
      shutdownGraceMs: 10_000,
      firstSyncWaitMs: 60_000,
      logLevel: "warn",
      log: createLogger({}, "silent"),
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-demo-"));
    stack = await start();
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints a new demo key, kept in the data directory with a local-only note, after the first sync", () => {
    const banner = stack.banner();

    expect(stack.demo?.created).toBe(true);
    expect(stack.apiKey).toMatch(/^rds_/);
    expect(banner).toContain(`Demo API key    ${stack.apiKey}`);
    expect(banner).toContain("The first sync has finished");
    const keyFile = readFileSync(join(dataDir, "demo-key.txt"), "utf8");
    expect(keyFile).toContain(stack.apiKey);
    expect(keyFile).toMatch(/LOCAL ONLY/);
  });

  it("answers every printed curl command successfully", async () => {
    const lines = stack
      .banner()
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.startsWith("curl "));
    expect(lines.length).toBeGreaterThanOrEqual(6);

    const outputs: string[] = [];
    for (const line of lines) {
      const stdout = await shell(line);
      const body = JSON.parse(stdout) as { success: boolean };
      expect(body.success, `${line}\n${stdout}`).toBe(true);
      outputs.push(stdout);
    }
    const all = outputs.join("\n");
    expect(all).toContain("Derek Osgood");
    expect(all).toContain("Sarah Connor");
    expect(all).toContain("C01GENERAL");
  });

  it("creates another tenant's key with the printed npm run api-key command, and that key sees no demo data", async () => {
    const line = stack
      .banner()
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.includes("npm run api-key"));
    if (!line) throw new Error("no api-key command printed");

    const stdout = await shell(line);
    const key = stdout.match(/rds_[A-Za-z0-9_-]{43}/)?.[0];
    if (!key) throw new Error(`no key in: ${stdout}`);
    const api = localApi(() => stack.apiUrl, key);
    const status = await api("GET", "/integrations/slack/reference-data/sync/status");
    expect(status.status).not.toBe(401);
    expect(status.text).not.toContain("Derek");
  });

  it("prints the same key again after a restart, and the synced data is still there", async () => {
    const key = stack.apiKey;
    await stack.stop();

    stack = await start();

    expect(stack.demo?.created).toBe(false);
    expect(stack.apiKey).toBe(key);
    expect(stack.banner()).toContain(`Demo API key    ${key}`);
    const firstCurl = stack
      .banner()
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("curl "));
    expect(await shell(firstCurl ?? "false")).toContain("Derek Osgood");
  });
});
