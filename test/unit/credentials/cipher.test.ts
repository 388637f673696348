import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createFileKeyCipher, createKmsKeyCipher, keyHint } from "../../../shared/credentials/cipher.js";
import { createTenantKeyProvider } from "../../../shared/credentials/key-provider.js";
import type { GatewayCredentials } from "../../../shared/domain/entities.js";
import { GatewayError } from "../../../shared/gateway/errors.js";

const KEY = "wg_live_0123456789abcdefghij";
const kms = mockClient(KMSClient);

beforeEach(() => kms.reset());

describe("file key cipher", () => {
  it("round-trips under the tenant, refuses another tenant and a tampered ciphertext, and never stores the key", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "rds-cipher-")), "key");
    const cipher = createFileKeyCipher(file);
    const ciphertext = await cipher.encrypt("acme", KEY);
    expect(ciphertext).not.toContain(KEY);
    expect(Buffer.from(ciphertext, "base64").toString("utf8")).not.toContain(KEY);
    expect(await cipher.decrypt("acme", ciphertext)).toBe(KEY);
    await expect(cipher.decrypt("globex", ciphertext)).rejects.toThrow(/does not decrypt/);
    const envelope = JSON.parse(Buffer.from(ciphertext, "base64").toString("utf8"));
    envelope.data = Buffer.from("x".repeat(20)).toString("base64");
    await expect(cipher.decrypt("acme", Buffer.from(JSON.stringify(envelope)).toString("base64"))).rejects.toThrow();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, "utf8"), "base64")).toHaveLength(32);
    // Two encryptions of one key differ (fresh IV).
    expect(await cipher.encrypt("acme", KEY)).not.toBe(ciphertext);
  });

  it("binds a ciphertext to its purpose: it opens only under the purpose it was sealed for", async () => {
    const cipher = createFileKeyCipher(join(mkdtempSync(join(tmpdir(), "rds-cipher-")), "key"));
    const sealed = await cipher.encrypt("acme", KEY, "webhook-signing");

    expect(await cipher.decrypt("acme", sealed, "webhook-signing")).toBe(KEY);
    await expect(cipher.decrypt("acme", sealed)).rejects.toThrow(/does not decrypt/);
    await expect(cipher.decrypt("acme", sealed, "other")).rejects.toThrow(/does not decrypt/);
    await expect(cipher.decrypt("acme", await cipher.encrypt("acme", KEY), "webhook-signing")).rejects.toThrow(
      /does not decrypt/,
    );
  });
});

describe("KMS key cipher", () => {
  it("encrypts under a fresh data key bound to the tenant by the encryption context", async () => {
    const plain = new Uint8Array(32).fill(7);
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: plain.slice(), CiphertextBlob: new Uint8Array([1, 2, 3]) });
    kms.on(DecryptCommand).resolves({ Plaintext: plain.slice() });
    const cipher = createKmsKeyCipher("arn:aws:kms:us-east-1:1:key/k", new KMSClient({ region: "us-east-1" }));
    const ciphertext = await cipher.encrypt("acme", KEY);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toMatchObject({
      KeyId: "arn:aws:kms:us-east-1:1:key/k",
      KeySpec: "AES_256",
      EncryptionContext: { tenantId: "acme" },
    });
    expect(await cipher.decrypt("acme", ciphertext)).toBe(KEY);
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input).toMatchObject({
      EncryptionContext: { tenantId: "acme" },
    });
  });

  it("puts a purpose in the encryption context, so IAM can grant Decrypt for that purpose alone", async () => {
    const plain = new Uint8Array(32).fill(9);
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: plain.slice(), CiphertextBlob: new Uint8Array([4]) });
    kms.on(DecryptCommand).resolves({ Plaintext: plain.slice() });
    const cipher = createKmsKeyCipher("k", new KMSClient({ region: "us-east-1" }));

    const sealed = await cipher.encrypt("acme", KEY, "webhook-signing");

    expect(await cipher.decrypt("acme", sealed, "webhook-signing")).toBe(KEY);
    for (const call of [kms.commandCalls(GenerateDataKeyCommand)[0], kms.commandCalls(DecryptCommand)[0]]) {
      expect(call?.args[0].input.EncryptionContext).toEqual({ tenantId: "acme", purpose: "webhook-signing" });
    }
  });

  it("fails closed when KMS refuses the data key (another tenant's context)", async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array([1]) });
    kms.on(DecryptCommand).rejects(new Error("InvalidCiphertextException"));
    const cipher = createKmsKeyCipher("k", new KMSClient({ region: "us-east-1" }));
    const ciphertext = await cipher.encrypt("acme", KEY);
    await expect(cipher.decrypt("globex", ciphertext)).rejects.toThrow(/could not decrypt/);
  });

  it("shows only a hint of a key", () => {
    expect(keyHint(KEY)).toBe("wg_live_…ghij");
    expect(keyHint("short-key")).toBe("…ey");
  });
});

describe("tenant key provider", () => {
  const row = (over: Partial<GatewayCredentials> = {}): GatewayCredentials => ({
    tenantId: "acme",
    ciphertext: "c",
    version: "v1",
    keyHint: "h",
    status: "valid",
    verifiedAt: "t",
    updatedAt: "t",
    ...over,
  });

  it("caches per tenant for the TTL, re-reads when asked fresh, and sees a new key after the TTL", async () => {
    let now = 0;
    let stored = row();
    let reads = 0;
    const provider = createTenantKeyProvider({
      tenants: {
        getCredentials: async () => {
          reads++;
          return stored;
        },
      },
      cipher: { encrypt: async () => "", decrypt: async (_t, c) => `key-${c}` },
      clock: { now: () => now },
      ttlMs: 1000,
    });
    expect(await provider("acme")).toEqual({ apiKey: "key-c", version: "v1" });
    await provider("acme");
    expect(reads).toBe(1);
    stored = row({ ciphertext: "c2", version: "v2" });
    expect((await provider("acme", { fresh: true })).version).toBe("v2");
    stored = row({ ciphertext: "c3", version: "v3" });
    now = 999;
    expect((await provider("acme")).version).toBe("v2");
    now = 2_000;
    expect((await provider("acme")).version).toBe("v3");
  });

  it("answers gateway_key for a tenant without a key or with one marked invalid: nothing is sent as anyone else", async () => {
    const none = createTenantKeyProvider({ tenants: { getCredentials: async () => undefined }, cipher: undefined });
    await expect(none("acme")).rejects.toMatchObject({ kind: "gateway_key", code: "GATEWAY_KEY_MISSING" });
    const invalid = createTenantKeyProvider({
      tenants: { getCredentials: async () => row({ status: "invalid" }) },
      cipher: undefined,
    });
    const error = await invalid("acme").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ kind: "gateway_key", code: "GATEWAY_KEY_INVALID", keyVersion: "v1" });
  });
});
