import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../../shared/config.js";
import { createSecretsLoader, DEV_CURSOR_SECRET } from "../../../shared/gateway/secrets.js";
import { createLogger, type Logger } from "../../../shared/log.js";

const sm = mockClient(SecretsManagerClient);
const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack-AbCdEf";

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const silent = createLogger({}, "silent");
  return { logger: { ...silent, warn: (message: string) => warnings.push(message) }, warnings };
}

const config = (env: Record<string, string>): Config => loadConfig(env);

beforeEach(() => {
  sm.reset();
});

describe("secrets loader without a secret ARN", () => {
  it("reads CURSOR_SECRET from the environment", async () => {
    const { logger, warnings } = recordingLogger();
    const load = createSecretsLoader(config({ CURSOR_SECRET: "0123456789abcdef0123" }), {
      logger,
      inLambda: false,
    });
    await expect(load()).resolves.toEqual({ cursorKeys: { current: "0123456789abcdef0123" } });
    expect(warnings).toEqual([]);
  });

  it("reads PREVIOUS_CURSOR_SECRET beside it during a rotation", async () => {
    const load = createSecretsLoader(
      config({ CURSOR_SECRET: "0123456789abcdef0123", PREVIOUS_CURSOR_SECRET: "the-old-cursor-secret-999" }),
      { inLambda: false },
    );
    await expect(load()).resolves.toEqual({
      cursorKeys: { current: "0123456789abcdef0123", previous: "the-old-cursor-secret-999" },
    });
  });

  it("falls back to dev values with one warning when unset locally", async () => {
    const { logger, warnings } = recordingLogger();
    const load = createSecretsLoader(config({}), { logger, inLambda: false });
    await expect(load()).resolves.toEqual({ cursorKeys: { current: DEV_CURSOR_SECRET } });
    await load();
    expect(warnings).toHaveLength(1);
  });

  it("refuses dev values inside Lambda", async () => {
    const load = createSecretsLoader(config({}), { inLambda: true });
    await expect(load()).rejects.toThrow(/STACK_SECRET_ARN/);
  });
});

describe("secrets loader with a secret ARN", () => {
  const secret = { cursorSecret: "cursor-secret-from-sm-1234" };
  const loaded = { cursorKeys: { current: secret.cursorSecret } };

  it("reads the JSON secret once and caches it for the TTL", async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: JSON.stringify(secret) });
    let now = 0;
    const load = createSecretsLoader(config({ STACK_SECRET_ARN: ARN }), {
      client: new SecretsManagerClient({ region: "us-east-1" }),
      ttlMs: 1000,
      clock: { now: () => now },
    });
    await expect(load()).resolves.toEqual(loaded);
    now = 999;
    await load();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now = 1000;
    await load();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it("shares one request between concurrent callers", async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
    const load = createSecretsLoader(config({ STACK_SECRET_ARN: ARN }), {
      client: new SecretsManagerClient({ region: "us-east-1" }),
    });
    await Promise.all([load(), load(), load()]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it("does not cache a failure: the next call tries again", async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new Error("throttled"))
      .resolves({ SecretString: JSON.stringify(secret) });
    const load = createSecretsLoader(config({ STACK_SECRET_ARN: ARN }), {
      client: new SecretsManagerClient({ region: "us-east-1" }),
    });
    await expect(load()).rejects.toThrow(/could not read the stack secret/);
    await expect(load()).resolves.toEqual(loaded);
  });

  it("reads previousCursorSecret beside cursorSecret during a rotation's overlap window", async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ ...secret, previousCursorSecret: "the-old-cursor-secret-999" }),
    });
    const load = createSecretsLoader(config({ STACK_SECRET_ARN: ARN }), {
      client: new SecretsManagerClient({ region: "us-east-1" }),
    });
    await expect(load()).resolves.toEqual({
      cursorKeys: { current: secret.cursorSecret, previous: "the-old-cursor-secret-999" },
    });
  });

  it.each([
    ["not JSON", "cursorSecret=abc"],
    ["missing cursorSecret", JSON.stringify({ other: "abc" })],
    ["a short cursorSecret", JSON.stringify({ cursorSecret: "short" })],
    [
      "a short previousCursorSecret",
      JSON.stringify({ cursorSecret: "cursor-secret-from-sm-1234", previousCursorSecret: "short" }),
    ],
  ])("rejects a secret that is %s without echoing it", async (label, text) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: text });
    const load = createSecretsLoader(config({ STACK_SECRET_ARN: ARN }), {
      client: new SecretsManagerClient({ region: "us-east-1" }),
    });
    const error = await load().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/cursorSecret/);
    if (label.includes("previous")) expect(error?.message).toMatch(/invalid: previousCursorSecret$/);
    expect(error?.message).not.toContain("abc");
    expect(error?.message).not.toContain("short");
  });
});
