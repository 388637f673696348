/**
 * A Lambda-like invocation context for handlers run by the local stack. Handlers size their work from
 * `getRemainingTimeInMillis()` (the sync worker checkpoints before its budget ends), so the local deadline has to
 * count down from the configured timeout exactly as Lambda's does.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";

export interface LambdaContextOptions {
  functionName: string;
  /** The function's configured timeout. */
  timeoutMs: number;
  region?: string;
  memoryMb?: number;
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
}

const LOCAL_ACCOUNT = "000000000000";

/** A fresh context for one invocation: its own request id, and a deadline of now + timeout. */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const region = options.region ?? "us-east-1";
  const name = options.functionName;
  const unsupported = () => {
    throw new Error("The local stack supports async handlers only (no callback-style done/fail/succeed)");
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`,
    memoryLimitInMB: String(options.memoryMb ?? 1024),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `local/${name}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/** The local account id used in ARNs the stack makes up (queues, functions, rules). */
export const LOCAL_ACCOUNT_ID = LOCAL_ACCOUNT;
