import { startLocalStack } from "../infra/local/stack.ts";

const stack = await startLocalStack({
  port: 0,
  dynamoPort: 0,
  sqsPort: 0,
  sampleGatewayPort: 0,
  dataDir: null,
  logLevel: "warn",
  firstSyncWaitMs: 30000,
});
console.log(stack.banner());
const key = stack.apiKey!;
const get = async (p: string) => {
  const r = await fetch(stack.apiUrl + p, { headers: { authorization: `Bearer ${key}` } });
  return [r.status, await r.text()];
};
console.log(await get("/discovery"));
const cmds = stack.demo!.commands;
for (const c of cmds.slice(1, 3)) console.log(c.path, (await get(c.path))[1].slice(0, 300));
await stack.stop();
