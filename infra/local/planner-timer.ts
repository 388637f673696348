/**
 * EventBridge's schedule for the planner, on one machine: a timer that invokes the planner handler with a
 * "Scheduled Event" and a Lambda-like context every `intervalMs`. Runs never overlap (a tick that finds a run in
 * progress is skipped, as a late planner would find nothing left to claim anyway), and `runNow()` lets the stack and
 * tests run it on demand, queued behind any run in progress.
 */
import { randomUUID } from "node:crypto";
import type { Context, EventBridgeEvent } from "aws-lambda";
import type { Logger } from "../../shared/log.js";
import { createLambdaContext, LOCAL_ACCOUNT_ID } from "./lambda-context.js";

export type ScheduledEvent = EventBridgeEvent<"Scheduled Event", Record<string, never>>;
export type PlannerHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

export interface PlannerTimerOptions {
  intervalMs: number;
  handler: () => Promise<PlannerHandler>;
  /** The planner's Lambda timeout: its context's deadline. */
  timeoutMs: number;
  region?: string;
  log: Logger;
}

export interface PlannerTimer {
  /** Runs the planner once more, after any run in progress; resolves with the handler's result. */
  runNow(): Promise<unknown>;
  /** Completed runs. */
  runs(): number;
  /** Stops the timer and waits up to `graceMs` for a run in progress. */
  stop(graceMs: number): Promise<void>;
}

const RULE_NAME = "planner-schedule";

/** A "Scheduled Event" as EventBridge delivers it for a schedule rule. */
export function scheduledEvent(now: number, region = "us-east-1"): ScheduledEvent {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: LOCAL_ACCOUNT_ID,
    // EventBridge stamps whole seconds.
    time: new Date(Math.floor(now / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    region,
    resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:rule/${RULE_NAME}`],
    detail: {},
  };
}

/** Starts the timer; the first tick is `intervalMs` from now (call runNow() for an immediate run). */
export function startPlannerTimer(options: PlannerTimerOptions): PlannerTimer {
  const region = options.region ?? "us-east-1";
  let chain: Promise<unknown> = Promise.resolve();
  let busy = false;
  let completed = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const invoke = async (): Promise<unknown> => {
    busy = true;
    try {
      const handler = await options.handler();
      const context = createLambdaContext({ functionName: "planner", timeoutMs: options.timeoutMs, region });
      return await handler(scheduledEvent(Date.now(), region), context);
    } finally {
      busy = false;
      completed++;
    }
  };

  const enqueue = (): Promise<unknown> => {
    const run = chain.then(invoke, invoke);
    // The chain itself never rejects, so one failed run does not poison the next.
    chain = run.catch(() => undefined);
    return run;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      if (!busy) {
        enqueue().catch((error: unknown) => options.log.error("planner run failed", { error }));
      }
      schedule();
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runNow: enqueue,
    runs: () => completed,
    async stop(graceMs) {
      stopped = true;
      clearTimeout(timer);
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        chain,
        new Promise((resolve) => {
          grace = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(grace);
    },
  };
}
