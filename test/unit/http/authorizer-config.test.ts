/**
 * The authorizer reads its four variables by hand (`authorizerConfig`, to keep zod out of its bundle); every other
 * function reads them through `loadConfig`. The two must give the same answers: same defaults, same values, and the
 * same environments refused.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../shared/config.js";
import { authorizerConfig } from "../../../shared/http/authorizer.js";

const pick = (env: NodeJS.ProcessEnv) => {
  const { TABLE_NAME, DYNAMODB_ENDPOINT, AWS_REGION, LOG_LEVEL } = loadConfig(env);
  return DYNAMODB_ENDPOINT === undefined
    ? { TABLE_NAME, AWS_REGION, LOG_LEVEL }
    : { TABLE_NAME, DYNAMODB_ENDPOINT, AWS_REGION, LOG_LEVEL };
};

describe("authorizerConfig", () => {
  it.each<[string, NodeJS.ProcessEnv]>([
    ["nothing set (the defaults)", {}],
    [
      "every variable set",
      {
        TABLE_NAME: "rds-prod",
        DYNAMODB_ENDPOINT: "http://127.0.0.1:8000",
        AWS_REGION: "eu-west-1",
        LOG_LEVEL: "warn",
      },
    ],
    ["an endpoint with spaces around it", { DYNAMODB_ENDPOINT: " http://localhost:4567 " }],
    ["an empty region", { AWS_REGION: "" }],
    ["unrelated variables", { QUEUE_URL: "https://sqs.example/q", CURSOR_SECRET: "x".repeat(16) }],
  ])("reads %s as loadConfig does", (_what, env) => {
    expect(authorizerConfig(env)).toEqual(pick(env));
  });

  it.each<[string, NodeJS.ProcessEnv]>([
    ["an empty table name", { TABLE_NAME: "" }],
    ["an unknown log level", { LOG_LEVEL: "verbose" }],
    ["an upper-case log level", { LOG_LEVEL: "INFO" }],
    ["an endpoint that is no URL", { DYNAMODB_ENDPOINT: "127.0.0.1:8000" }],
    ["an endpoint without a host", { DYNAMODB_ENDPOINT: "http://" }],
    ["an empty endpoint", { DYNAMODB_ENDPOINT: "" }],
  ])("refuses %s, as loadConfig does", (_what, env) => {
    expect(() => loadConfig(env)).toThrow();
    expect(() => authorizerConfig(env)).toThrow(/^Invalid environment: /);
  });
});
