/** The console Lambda: the admin console's static files (shared/console/serve.ts), with no access to any data. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { type ConsoleAssets, loadConsoleAssets } from "../../shared/console/assets.js";
import { consoleResponse } from "../../shared/console/serve.js";

let assets: Promise<ConsoleAssets> | undefined;

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  assets ??= loadConsoleAssets().catch((error: unknown) => {
    assets = undefined;
    throw error;
  });
  return consoleResponse(event, await assets);
}
