/**
 * Hash manifests: externalId → content hash and status of every item of a committed partition version, stored as one
 * gzipped blob, so an unchanged resync reads a few chunks instead of every item.
 */
import { NotFoundError } from "../domain/errors.js";
import type { ItemStatus, PartitionRef } from "../domain/index.js";
import type { BlobLocation, BlobStore } from "./blob-store.js";
import { keys } from "./keys.js";
import type { Manifest, ManifestRepository } from "./ports.js";

/** One letter per status keeps the encoding compact: [externalId, hash, letter]. */
const STATUS_LETTER: Record<ItemStatus, string> = { active: "a", inactive: "i", deleted: "d" };
const LETTER_STATUS: Record<string, ItemStatus> = { a: "active", i: "inactive", d: "deleted" };

interface EncodedManifest {
  v: 1;
  e: [string, string, string][];
}

/** The manifest as stored (before gzip): a versioned array of [externalId, hash, statusLetter]. */
export function encodeManifest(manifest: Manifest): EncodedManifest {
  const e: [string, string, string][] = [];
  for (const [id, entry] of manifest) e.push([id, entry.hash, STATUS_LETTER[entry.status]]);
  return { v: 1, e };
}

/** Inverse of encodeManifest; NotFoundError for anything else, so the engine falls back to the items. */
export function decodeManifest(value: unknown): Manifest {
  const entries = (value as Partial<EncodedManifest> | null)?.e;
  if ((value as Partial<EncodedManifest> | null)?.v !== 1 || !Array.isArray(entries)) {
    throw new NotFoundError("Stored manifest has an unknown format");
  }
  const manifest: Manifest = new Map();
  for (const entry of entries) {
    const status = Array.isArray(entry) ? LETTER_STATUS[entry[2]] : undefined;
    if (!status || typeof entry[0] !== "string" || typeof entry[1] !== "string") {
      throw new NotFoundError("Stored manifest has a malformed entry");
    }
    manifest.set(entry[0], { hash: entry[1], status });
  }
  return manifest;
}

export class DynamoManifestRepository implements ManifestRepository {
  constructor(private readonly blobs: BlobStore) {}

  private location(ref: PartitionRef, version: number): BlobLocation {
    return {
      chunkKey: (n) => keys.manifestChunk(ref, version, n),
      prefix: keys.manifestPrefix(version),
      entity: "manifest",
    };
  }

  async write(ref: PartitionRef, version: number, manifest: Manifest): Promise<{ chunks: number }> {
    const { chunks } = await this.blobs.write(this.location(ref, version), encodeManifest(manifest));
    return { chunks };
  }

  /** NotFoundError when the version has no manifest of `chunks` chunks: the caller falls back to loadHashes. */
  async read(ref: PartitionRef, version: number, chunks: number): Promise<Manifest> {
    const blob = await this.blobs.read(this.location(ref, version), chunks);
    if (blob === undefined) throw new NotFoundError(`No manifest for version ${version}`, { version, chunks });
    return decodeManifest(blob.value);
  }

  async delete(ref: PartitionRef, version: number, chunks: number): Promise<void> {
    await this.blobs.delete(this.location(ref, version), chunks);
  }
}
