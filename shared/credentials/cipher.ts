/**
 * Encryption of tenants' Waygate API keys and webhook signing secrets at rest: AES-256-GCM with the tenant ID (and the
 * secret's purpose, when it has one) as associated data, so a ciphertext copied into another tenant's row, or into
 * another kind of row, does not decrypt. In AWS each save asks KMS for a fresh data key (encryption context
 * `{ tenantId, purpose? }`, so KMS too refuses it for another tenant, and IAM can grant Decrypt for one purpose only)
 * and stores it encrypted beside the ciphertext; only the functions granted the KMS key can decrypt. Locally the key
 * is a 32-byte file under DATA_DIR. The Waygate key has no purpose: its rows predate purposes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { z } from "zod";
import { InternalError } from "../domain/errors.js";

export interface KeyCipher {
  /** `purpose` is bound to the ciphertext: decrypt must name the same one. */
  encrypt(tenantId: string, plaintext: string, purpose?: string): Promise<string>;
  /** InternalError when the ciphertext is not this tenant's (or purpose's) or was tampered with. */
  decrypt(tenantId: string, ciphertext: string, purpose?: string): Promise<string>;
}

/** The KMS encryption context key that names what a ciphertext is for (infra conditions Decrypt on it). */
export const PURPOSE_CONTEXT_KEY = "purpose";

function encryptionContext(tenantId: string, purpose: string | undefined): Record<string, string> {
  return purpose === undefined ? { tenantId } : { tenantId, [PURPOSE_CONTEXT_KEY]: purpose };
}

function associatedData(tenantId: string, purpose: string | undefined): Buffer {
  return Buffer.from(purpose === undefined ? tenantId : `${tenantId}\u0000${purpose}`, "utf8");
}

const envelopeSchema = z.object({
  v: z.literal(1),
  iv: z.string(),
  tag: z.string(),
  data: z.string(),
  /** The KMS-encrypted data key (KMS cipher only). */
  dk: z.string().optional(),
});
type Envelope = z.infer<typeof envelopeSchema>;

function seal(key: Buffer, aad: Buffer, plaintext: string): Omit<Envelope, "v" | "dk"> {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64"), data: data.toString("base64") };
}

function open(key: Buffer, aad: Buffer, envelope: Envelope): string {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64"));
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(envelope.tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, "base64")), decipher.final()]).toString("utf8");
  } catch (cause) {
    throw new InternalError("the stored secret does not decrypt for this tenant", undefined, { cause });
  }
}

function encode(envelope: Envelope): string {
  return Buffer.from(JSON.stringify(envelope), "utf8").toString("base64");
}

function decode(text: string): Envelope {
  try {
    return envelopeSchema.parse(JSON.parse(Buffer.from(text, "base64").toString("utf8")));
  } catch (cause) {
    throw new InternalError("the stored secret is not a valid envelope", undefined, { cause });
  }
}

/** AES-256-GCM under a key kept in a file (created with mode 0600 on first use). */
export function createFileKeyCipher(path: string): KeyCipher {
  let key: Buffer | undefined;
  const load = (): Buffer => {
    if (key) return key;
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
    }
    chmodSync(path, 0o600);
    const bytes = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
    if (bytes.length !== 32) throw new InternalError(`the key file ${path} must hold 32 bytes, base64`);
    key = bytes;
    return key;
  };
  return {
    async encrypt(tenantId, plaintext, purpose) {
      return encode({ v: 1, ...seal(load(), associatedData(tenantId, purpose), plaintext) });
    },
    async decrypt(tenantId, ciphertext, purpose) {
      return open(load(), associatedData(tenantId, purpose), decode(ciphertext));
    },
  };
}

/** AES-256-GCM under a fresh KMS data key per save, bound to the tenant (and purpose) by the encryption context. */
export function createKmsKeyCipher(keyId: string, client: KMSClient = new KMSClient({})): KeyCipher {
  return {
    async encrypt(tenantId, plaintext, purpose) {
      const result = await client.send(
        new GenerateDataKeyCommand({
          KeyId: keyId,
          KeySpec: "AES_256",
          EncryptionContext: encryptionContext(tenantId, purpose),
        }),
      );
      if (!result.Plaintext || !result.CiphertextBlob) throw new InternalError("KMS returned no data key");
      const key = Buffer.from(result.Plaintext);
      try {
        return encode({
          v: 1,
          ...seal(key, associatedData(tenantId, purpose), plaintext),
          dk: Buffer.from(result.CiphertextBlob).toString("base64"),
        });
      } finally {
        key.fill(0);
      }
    },
    async decrypt(tenantId, ciphertext, purpose) {
      const envelope = decode(ciphertext);
      if (envelope.dk === undefined) throw new InternalError("the stored secret has no data key");
      let plain: Uint8Array | undefined;
      try {
        const result = await client.send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(envelope.dk, "base64"),
            EncryptionContext: encryptionContext(tenantId, purpose),
          }),
        );
        plain = result.Plaintext;
      } catch (cause) {
        throw new InternalError("KMS could not decrypt the stored secret's data key", undefined, { cause });
      }
      if (!plain) throw new InternalError("KMS returned no plaintext data key");
      const key = Buffer.from(plain);
      try {
        return open(key, associatedData(tenantId, purpose), envelope);
      } finally {
        key.fill(0);
      }
    },
  };
}

/** The cipher the configuration names: KMS in AWS, the key file locally; undefined when neither is configured. */
export function cipherFromConfig(config: {
  CREDENTIALS_KMS_KEY_ID?: string | undefined;
  CREDENTIALS_KEY_FILE?: string | undefined;
  AWS_REGION: string;
}): KeyCipher | undefined {
  if (config.CREDENTIALS_KMS_KEY_ID) {
    return createKmsKeyCipher(config.CREDENTIALS_KMS_KEY_ID, new KMSClient({ region: config.AWS_REGION }));
  }
  if (config.CREDENTIALS_KEY_FILE) return createFileKeyCipher(config.CREDENTIALS_KEY_FILE);
  return undefined;
}

/** What may be shown of a key: its first 8 and last 4 characters. */
export function keyHint(apiKey: string): string {
  return apiKey.length <= 16 ? `…${apiKey.slice(-2)}` : `${apiKey.slice(0, 8)}…${apiKey.slice(-4)}`;
}
