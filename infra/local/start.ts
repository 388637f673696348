/**
 * `npm start`: the whole service on this machine (see stack.ts), configured by environment variables (config.ts).
 * Ctrl-C (or SIGTERM) stops it gracefully; a second Ctrl-C exits at once.
 */
import { createLogger } from "../../shared/log.js";
import { loadLocalEnv } from "./config.js";
import { startLocalStack } from "./stack.js";

const log = createLogger({ service: "local-stack" });

async function main(): Promise<void> {
  const env = loadLocalEnv();
  const stack = await startLocalStack({
    port: env.PORT,
    dynamoPort: env.DYNAMODB_PORT,
    sqsPort: env.SQS_PORT,
    sampleGatewayPort: env.SAMPLE_GATEWAY_PORT,
    ...(env.GATEWAY_URL ? { gatewayUrl: env.GATEWAY_URL } : {}),
    ...(env.DEMO_GATEWAY_KEY ? { demoGatewayKey: env.DEMO_GATEWAY_KEY } : {}),
    dataDir: env.DATA_DIR,
    scheduleSeconds: env.SCHEDULE_SECONDS,
    workerTimeoutSeconds: env.WORKER_TIMEOUT_SECONDS,
    workerBatchSize: env.WORKER_BATCH_SIZE,
    workerConcurrency: env.WORKER_CONCURRENCY,
    log,
  });
  console.log(stack.banner());

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn("second signal: exiting without waiting", { signal });
      process.exit(130);
    }
    log.info("shutting down: finishing in-flight syncs (Ctrl-C again to exit at once)", { signal });
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error("shutdown failed", { error });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  log.error("the local stack failed to start", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
