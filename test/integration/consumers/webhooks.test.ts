/**
 * Webhook delivery over dynalite and a real loopback HTTP receiver: signed POSTs of the tenant's own events, event-type
 * filters, failures reported for retry (an error status, a slow endpoint, a target the SSRF guard refuses), and the
 * PUT/GET/DELETE routes (secret shown once, stored encrypted, independent of the stack's cursor secret).
 */
import { createHmac, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { handler as delivererHandler } from "../../../functions/webhook-deliverer/handler.js";
import { toSqsEvent } from "../../../infra/local/sqs-poller.js";
import { jobEvent, type ServiceEvent } from "../../../shared/events/events.js";
import { createLogger } from "../../../shared/log.js";
import { getRuntime, overrideRuntime, resetRuntime } from "../../../shared/runtime.js";
import { keys } from "../../../shared/storage/keys.js";
import { type DeliverDeps, deliverEvent, signature } from "../../../shared/webhooks/deliver.js";
import { legacyWebhookSecret, putWebhook } from "../../../shared/webhooks/webhooks.js";
import { CURSOR_SECRET, caller, freshStack, type Servers, type Stack, startServers } from "../api/fixture.js";

let servers: Servers;
let receiver: Server;
let url: string;
const received: { headers: IncomingHttpHeaders; body: string; path: string }[] = [];

// Signing secrets are stored encrypted: locally under a key file, as the local stack does (AWS: the KMS key).
const keyFile = join(tmpdir(), `rds-webhooks-${randomUUID()}.key`);

beforeAll(async () => {
  // The local stack's setting: loopback receivers allowed (the AWS setting is tested at the end).
  process.env.WEBHOOK_TARGETS = "loopback";
  process.env.CREDENTIALS_KEY_FILE = keyFile;
  servers = await startServers();
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body, path: req.url ?? "" });
      if (req.url === "/slow") return void setTimeout(() => res.end(), 2_000);
      res.statusCode = req.url === "/broken" ? 503 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  delete process.env.WEBHOOK_TARGETS;
  delete process.env.CREDENTIALS_KEY_FILE;
  delete process.env.PREVIOUS_CURSOR_SECRET;
  rmSync(keyFile, { force: true });
  receiver.closeAllConnections();
  receiver.close();
  await servers.stop();
});

function event(tenantId: string, type: ServiceEvent["detail-type"] = "Sync Completed"): ServiceEvent {
  const job = {
    tenantId,
    integrationId: "slack",
    connectionId: "default",
    dataType: "users",
    jobId: "01JOBWEBHOOK",
    status: "completed" as const,
    trigger: "schedule" as const,
    mode: "full" as const,
    createdAt: "2026-03-01T12:00:00.000Z",
    itemsFound: 3,
    itemsCreated: 1,
    itemsUpdated: 1,
    itemsDeleted: 1,
    itemsDeactivated: 1,
    itemsFailed: 0,
    itemsDuplicate: 0,
    pages: 1,
    invocations: 1,
    warnings: [],
    expiresAt: 0,
  };
  return {
    ...jobEvent(type === "Sync Failed" ? "Sync Failed" : "Sync Completed", job, "2026-03-01T12:00:00.000Z"),
    "detail-type": type,
    id: "evt-1",
  };
}

function deps(stack: Stack, extra: Partial<DeliverDeps> = {}): DeliverDeps {
  return {
    doc: getRuntime().doc,
    tableName: stack.tableName,
    cipher: getRuntime().keyCipher,
    legacySecretKey: async () => CURSOR_SECRET,
    targets: "loopback",
    log: createLogger({}, "silent"),
    ...extra,
  };
}

/** The stack secret rotated: the handlers' runtime rebuilt over a new CURSOR_SECRET (and the old one as previous). */
function rotateCursorSecret(stack: Stack, next: string): void {
  process.env.PREVIOUS_CURSOR_SECRET = CURSOR_SECRET;
  process.env.CURSOR_SECRET = next;
  resetRuntime();
  overrideRuntime({ clock: stack.clock, log: createLogger({}, "silent") });
}

describe("webhook delivery", () => {
  it("POSTs the tenant's event signed with the secret PUT returned, and nothing for a tenant without a webhook", async () => {
    const stack = await freshStack(servers);
    const put = await stack.call<{ secret: string; url: string; events: string[] }>(configHandler, {
      method: "PUT",
      path: "/api/v1/webhooks",
      body: { url: `${url}/ok` },
      caller: caller("tenant-a"),
    });
    expect(put.status).toBe(200);
    const secret = put.body.data?.secret as string;
    const shown = await stack.call(configHandler, {
      method: "GET",
      path: "/api/v1/webhooks",
      caller: caller("tenant-a"),
    });
    expect(shown.body.data).toMatchObject({ url: `${url}/ok`, events: expect.arrayContaining(["Sync Completed"]) });
    expect(JSON.stringify(shown.body)).not.toContain(secret);

    received.length = 0;
    expect(await deliverEvent(deps(stack), event("tenant-a"))).toEqual({ status: "delivered", httpStatus: 200 });
    expect(await deliverEvent(deps(stack), event("tenant-b"))).toMatchObject({ status: "skipped" });
    expect(received).toHaveLength(1);
    const [hit] = received;
    expect(hit?.headers["x-signature"]).toBe(
      `sha256=${createHmac("sha256", secret)
        .update(hit?.body ?? "")
        .digest("hex")}`,
    );
    expect(JSON.parse(hit?.body ?? "{}").detail).toMatchObject({ tenantId: "tenant-a", jobId: "01JOBWEBHOOK" });

    // A new PUT is a new secret; DELETE removes the webhook.
    const again = await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: `${url}/ok` });
    expect(again.secret).not.toBe(secret);
    const deleted = await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/webhooks",
      caller: caller("tenant-a"),
    });
    expect(deleted.status).toBe(200);
    expect(
      (await stack.call(configHandler, { method: "GET", path: "/api/v1/webhooks", caller: caller("tenant-a") })).status,
    ).toBe(404);
  });

  it("sends only the subscribed event types", async () => {
    const stack = await freshStack(servers);
    await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: `${url}/ok`, events: ["Sync Failed"] });
    expect(await deliverEvent(deps(stack), event("tenant-a", "Sync Completed"))).toMatchObject({ status: "skipped" });
    expect(await deliverEvent(deps(stack), event("tenant-a", "Sync Failed"))).toMatchObject({ status: "delivered" });
  });

  it("reports an error status, a slow endpoint and a refused target as failures to retry", async () => {
    const stack = await freshStack(servers);
    await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: `${url}/broken` });
    expect(await deliverEvent(deps(stack), event("tenant-a"))).toMatchObject({ status: "failed" });
    await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: `${url}/slow` });
    expect(await deliverEvent(deps(stack, { timeoutMs: 200 }), event("tenant-a"))).toMatchObject({
      status: "failed",
      reason: expect.stringContaining("no answer"),
    });
    // In AWS mode the guard resolves the name and refuses a private address before connecting.
    await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: "https://hooks.example.com/x" });
    const resolve = ((_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) =>
      cb(null, [{ address: "169.254.169.254", family: 4 }])) as never;
    expect(await deliverEvent(deps(stack, { targets: "https", resolve }), event("tenant-a"))).toMatchObject({
      status: "failed",
      reason: expect.stringContaining("not a public address"),
    });
  });

  it("keeps signing with the secret PUT returned after the stack's cursor secret is rotated", async () => {
    const stack = await freshStack(servers);
    const put = await stack.call<{ secret: string }>(configHandler, {
      method: "PUT",
      path: "/api/v1/webhooks",
      body: { url: `${url}/ok` },
      caller: caller("tenant-a"),
    });
    const secret = put.body.data?.secret as string;
    const [row] = (await stack.tenantRows("tenant-a")).filter((r) => r.SK === "WEBHOOK");
    expect(row?.secretCiphertext).toEqual(expect.any(String));
    expect(JSON.stringify(row)).not.toContain(secret);

    rotateCursorSecret(stack, "a-rotated-cursor-secret-0123456789");
    received.length = 0;
    const result = await delivererHandler(
      toSqsEvent([{ MessageId: "m-1", Body: JSON.stringify(event("tenant-a")) }], "arn:queue", "us-east-1"),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]?.headers["x-signature"]).toBe(signature(received[0]?.body ?? "", secret));
  });

  it("decrypts a webhook's secret once while it is cached, and the new one after a new PUT", async () => {
    const stack = await freshStack(servers);
    const cipher = getRuntime().keyCipher;
    if (!cipher) throw new Error("the fixture configures a key cipher");
    let decrypts = 0;
    const counting: typeof cipher = {
      encrypt: (...args) => cipher.encrypt(...args),
      decrypt: (...args) => {
        decrypts++;
        return cipher.decrypt(...args);
      },
    };
    const cached = { ...deps(stack), cipher: counting, secretCache: new Map<string, string>() };
    await putWebhook({ ...cached, clock: stack.clock }, "tenant-a", { url: `${url}/ok` });

    await deliverEvent(cached, event("tenant-a"));
    await deliverEvent(cached, event("tenant-a"));
    expect(decrypts).toBe(1);

    const replaced = await putWebhook({ ...cached, clock: stack.clock }, "tenant-a", { url: `${url}/ok` });
    received.length = 0;
    await deliverEvent(cached, event("tenant-a"));
    expect(decrypts).toBe(2);
    expect(received[0]?.headers["x-signature"]).toBe(signature(received[0]?.body ?? "", replaced.secret));
  });

  it("signs a webhook stored before secrets were stored with its derived secret until it is PUT again", async () => {
    const stack = await freshStack(servers);
    const nonce = "legacy-nonce-0123456789";
    await getRuntime().doc.send(
      new PutCommand({
        TableName: stack.tableName,
        Item: {
          ...keys.webhook("tenant-a"),
          entity: "webhook",
          url: `${url}/ok`,
          events: ["Sync Completed"],
          createdAt: "2026-01-01T00:00:00.000Z",
          updatedAt: "2026-01-01T00:00:00.000Z",
          nonce,
        },
      }),
    );
    received.length = 0;
    expect(await deliverEvent(deps(stack), event("tenant-a"))).toMatchObject({ status: "delivered" });
    expect(received[0]?.headers["x-signature"]).toBe(
      signature(received[0]?.body ?? "", legacyWebhookSecret(CURSOR_SECRET, "tenant-a", nonce)),
    );

    // PUT again: a stored secret replaces the nonce, and it survives the next rotation.
    const again = await putWebhook({ ...deps(stack), clock: stack.clock }, "tenant-a", { url: `${url}/ok` });
    const [row] = (await stack.tenantRows("tenant-a")).filter((r) => r.SK === "WEBHOOK");
    expect(row).not.toHaveProperty("nonce");
    received.length = 0;
    await deliverEvent(deps(stack, { legacySecretKey: async () => "another-cursor-secret-0123" }), event("tenant-a"));
    expect(received[0]?.headers["x-signature"]).toBe(signature(received[0]?.body ?? "", again.secret));
  });

  it("refuses a non-https or private URL on PUT in AWS mode", async () => {
    const stack = await freshStack(servers);
    const put = (body: unknown) =>
      stack.call(configHandler, { method: "PUT", path: "/api/v1/webhooks", body, caller: caller("tenant-a") });
    process.env.WEBHOOK_TARGETS = "https";
    try {
      const { resetRuntime, overrideRuntime } = await import("../../../shared/runtime.js");
      resetRuntime();
      overrideRuntime({ clock: stack.clock, log: createLogger({}, "silent") });
      expect((await put({ url: "http://hooks.example.com/x" })).status).toBe(400);
      expect((await put({ url: "https://10.0.0.1/x" })).status).toBe(400);
      expect((await put({ url: "https://hooks.example.com/x", events: ["Nope"] })).status).toBe(400);
      expect((await put({ url: "https://hooks.example.com/x" })).status).toBe(200);
    } finally {
      process.env.WEBHOOK_TARGETS = "loopback";
    }
  });
});
