/**
 * Runs the sample gateway alone: `npx tsx infra/local/sample-gateway/main.ts` (SAMPLE_GATEWAY_PORT, default 8787;
 * SAMPLE_GATEWAY_TOKEN; fault settings from SAMPLE_GATEWAY_FAULT_RATE / _SEED / SAMPLE_GATEWAY_FAULTS).
 */
import { startSampleGateway } from "./server.js";

const port = Number(process.env.SAMPLE_GATEWAY_PORT ?? 8787);
const token = process.env.SAMPLE_GATEWAY_TOKEN;
const gateway = await startSampleGateway({ port, ...(token === undefined ? {} : { token }) });
console.log(JSON.stringify({ level: "info", message: "sample gateway listening", url: gateway.url }));

const shutdown = () => {
  gateway.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
