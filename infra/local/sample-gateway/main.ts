/**
 * Runs the sample gateway alone: `npx tsx infra/local/sample-gateway/main.ts` (SAMPLE_GATEWAY_PORT, default 8787;
 * fault settings from SAMPLE_GATEWAY_FAULT_RATE / _SEED / SAMPLE_GATEWAY_FAULTS). Tenant `x`'s key is `wg_sample_x`.
 */
import { startSampleGateway } from "./server.js";

const port = Number(process.env.SAMPLE_GATEWAY_PORT ?? 8787);
const gateway = await startSampleGateway({ port });
console.log(JSON.stringify({ level: "info", message: "sample gateway listening", url: gateway.url }));

const shutdown = () => {
  gateway.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
