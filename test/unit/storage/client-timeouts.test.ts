/**
 * The DynamoDB client gives up on a server that accepts the connection and never answers, instead of waiting for API
 * Gateway's 29 s or a lease to lapse (the SDK's default has no timeout at all).
 */
import { createServer, type Server, type Socket } from "node:net";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DYNAMODB_TIMEOUTS } from "../../../shared/storage/client.js";

let server: Server;
let endpoint: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  // Reads the request, never answers.
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("DynamoDB client timeouts", () => {
  it("fails a request whose response never comes with a TimeoutError", async () => {
    const doc = createDocumentClient({ endpoint, timeouts: { connectionTimeoutMs: 200, requestTimeoutMs: 300 } });
    try {
      const error = await doc.send(new GetCommand({ TableName: "t", Key: { PK: "a", SK: "b" } })).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe("TimeoutError");
    } finally {
      doc.destroy();
    }
  });

  it("bounds every deployed request by default", () => {
    expect(DYNAMODB_TIMEOUTS.connectionTimeoutMs).toBeGreaterThan(0);
    expect(DYNAMODB_TIMEOUTS.requestTimeoutMs).toBeGreaterThan(0);
    expect(DYNAMODB_TIMEOUTS.requestTimeoutMs).toBeLessThan(29_000);
  });
});
