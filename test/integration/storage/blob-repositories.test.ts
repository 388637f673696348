import { randomBytes } from "node:crypto";
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../../shared/domain/errors.js";
import { BLOB_CHUNK_BYTES } from "../../../shared/storage/blob-store.js";
import { dataPk, integrationPk, keys } from "../../../shared/storage/keys.js";
import type { Manifest, Repositories } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef } from "./fixtures.js";

const ref = partitionRef({ dataType: "crm_schema" });

/** A manifest shaped like the sync engine's: ULID-like ids, 16-hex-digit content hashes, mostly active. */
function manifestOf(size: number): Manifest {
  const manifest: Manifest = new Map();
  for (let n = 0; n < size; n++) {
    manifest.set(`U${String(n).padStart(8, "0")}X${randomBytes(3).toString("hex").toUpperCase()}`, {
      hash: randomBytes(8).toString("hex"),
      status: n % 50 === 0 ? "inactive" : n % 97 === 0 ? "deleted" : "active",
    });
  }
  return manifest;
}

/** A JSON object of about `bytes` bytes that gzip cannot shrink much (random text). */
function bigObject(bytes: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let n = 0; n * 1_050 < bytes; n++) {
    fields[`field_${n}`] = { label: randomBytes(750).toString("base64"), options: [n, n + 1, { deep: true }] };
  }
  return { schema: fields, total: Object.keys(fields).length };
}

describe("blob repositories (manifests, objects, checkpoints)", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let tableName: string;

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    ({ repos, tableName } = await newStore(dynamo));
  });

  async function chunkRows(pk: string, prefix: string): Promise<Record<string, unknown>[]> {
    const result = await dynamo.doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": pk, ":prefix": prefix },
      }),
    );
    return result.Items ?? [];
  }

  describe("manifests", () => {
    it("round-trips a manifest, statuses included", async () => {
      const manifest = manifestOf(500);
      const { chunks } = await repos.manifests.write(ref, 3, manifest);
      expect(chunks).toBe(1);
      expect(await repos.manifests.read(ref, 3, chunks)).toEqual(manifest);
    });

    it("round-trips an empty manifest", async () => {
      const { chunks } = await repos.manifests.write(ref, 1, new Map());
      expect(await repos.manifests.read(ref, 1, chunks)).toEqual(new Map());
    });

    it("stores 10,000 entries in well under 1 read unit per 100 items", async () => {
      const manifest = manifestOf(10_000);
      const { chunks } = await repos.manifests.write(ref, 1, manifest);
      const rows = await chunkRows(dataPk(ref), keys.manifestPrefix(1));
      expect(rows).toHaveLength(chunks);
      const storedBytes = rows.reduce((sum, row) => sum + (row.data as Uint8Array).length, 0);
      // Strongly consistent read units of a Query: total bytes in 4 KB units.
      const readUnitsPer100 = Math.ceil(storedBytes / 4096) / 100;
      expect(readUnitsPer100).toBeLessThan(0.5);
      expect(await repos.manifests.read(ref, 1, chunks)).toEqual(manifest);
    });

    it("keeps versions apart and deletes one without touching the other", async () => {
      const v1 = manifestOf(10);
      const v2 = manifestOf(20);
      const w1 = await repos.manifests.write(ref, 1, v1);
      const w2 = await repos.manifests.write(ref, 2, v2);
      await repos.manifests.delete(ref, 1, w1.chunks);
      await expect(repos.manifests.read(ref, 1, w1.chunks)).rejects.toBeInstanceOf(NotFoundError);
      expect(await repos.manifests.read(ref, 2, w2.chunks)).toEqual(v2);
    });

    it("raises NotFoundError when the stored chunk count differs from the caller's", async () => {
      const { chunks } = await repos.manifests.write(ref, 1, manifestOf(10));
      await expect(repos.manifests.read(ref, 1, chunks + 1)).rejects.toBeInstanceOf(NotFoundError);
      await expect(repos.manifests.read(ref, 7, 1)).rejects.toBeInstanceOf(NotFoundError);
      await expect(repos.manifests.read(ref, 1, 0)).rejects.toBeInstanceOf(NotFoundError);
    });

    it("raises NotFoundError for a chunk that is not valid gzip", async () => {
      const { chunks } = await repos.manifests.write(ref, 1, manifestOf(10));
      const [row] = await chunkRows(dataPk(ref), keys.manifestPrefix(1));
      await dynamo.doc.send(new PutCommand({ TableName: tableName, Item: { ...row, data: Buffer.from("nope") } }));
      await expect(repos.manifests.read(ref, 1, chunks)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe("objects", () => {
    it("round-trips a small object with its size", async () => {
      const object = { properties: [{ name: "email", type: "string" }], ok: true };
      const { chunks, bytes } = await repos.objects.write(ref, 1, object);
      expect(chunks).toBe(1);
      expect(bytes).toBe(Buffer.byteLength(JSON.stringify(object)));
      expect(await repos.objects.read(ref, 1, chunks, "2030-01-01T00:00:00.000Z")).toEqual({
        dataType: "crm_schema",
        version: 1,
        object,
        syncedAt: "2030-01-01T00:00:00.000Z",
        bytes,
      });
    });

    it("round-trips an object over 1 MB across several chunks of at most 350 KB", async () => {
      const object = bigObject(1_200_000);
      const { chunks, bytes } = await repos.objects.write(ref, 2, object);
      expect(bytes).toBeGreaterThan(1_000_000);
      expect(chunks).toBeGreaterThan(2);
      const rows = await chunkRows(dataPk(ref), keys.objectPrefix(2));
      expect(rows).toHaveLength(chunks);
      for (const row of rows) expect((row.data as Uint8Array).length).toBeLessThanOrEqual(BLOB_CHUNK_BYTES);
      const read = await repos.objects.read(ref, 2, chunks, "2030-01-01T00:00:00.000Z");
      expect(read?.object).toEqual(object);
      expect(read?.bytes).toBe(bytes);
    });

    it("returns undefined for a version without chunks, and NotFoundError for a wrong chunk count", async () => {
      expect(await repos.objects.read(ref, 1, 0, "x")).toBeUndefined();
      expect(await repos.objects.read(ref, 1, 2, "x")).toBeUndefined();
      const { chunks } = await repos.objects.write(ref, 1, bigObject(800_000));
      await expect(repos.objects.read(ref, 1, chunks + 1, "x")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("deletes every chunk of a version", async () => {
      const { chunks } = await repos.objects.write(ref, 1, bigObject(800_000));
      await repos.objects.delete(ref, 1, chunks);
      expect(await chunkRows(dataPk(ref), keys.objectPrefix(1))).toHaveLength(0);
    });
  });

  describe("checkpoints", () => {
    const jobPk = integrationPk("acme", "slack");

    it("saves, loads and deletes a checkpoint, with a TTL on every chunk", async () => {
      const state = { seen: Object.fromEntries([...manifestOf(100)].map(([id, e]) => [id, e.hash])), page: 3 };
      const { chunks } = await repos.jobs.saveCheckpoint("acme", "slack", "JOB1", state);
      expect(await repos.jobs.loadCheckpoint("acme", "slack", "JOB1", chunks)).toEqual(state);
      const rows = await chunkRows(jobPk, keys.checkpointPrefix("JOB1"));
      expect(rows.every((row) => row.entity === "checkpoint" && typeof row.expiresAt === "number")).toBe(true);

      await repos.jobs.deleteCheckpoint("acme", "slack", "JOB1", chunks);
      expect(await chunkRows(jobPk, keys.checkpointPrefix("JOB1"))).toHaveLength(0);
      await expect(repos.jobs.loadCheckpoint("acme", "slack", "JOB1", chunks)).rejects.toBeInstanceOf(NotFoundError);
    });

    it("overwrites a longer checkpoint with a shorter one and reads the new one", async () => {
      const big = await repos.jobs.saveCheckpoint("acme", "slack", "JOB1", bigObject(800_000));
      expect(big.chunks).toBeGreaterThan(1);
      const small = await repos.jobs.saveCheckpoint("acme", "slack", "JOB1", { page: 9 });
      expect(small.chunks).toBe(1);
      expect(await repos.jobs.loadCheckpoint("acme", "slack", "JOB1", 1)).toEqual({ page: 9 });
      // A caller holding the old count sees a mismatch, not a mix of two checkpoints.
      await expect(repos.jobs.loadCheckpoint("acme", "slack", "JOB1", big.chunks)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await repos.jobs.deleteCheckpoint("acme", "slack", "JOB1", 1);
      expect(await chunkRows(jobPk, keys.checkpointPrefix("JOB1"))).toHaveLength(0);
    });

    it("detects a torn checkpoint whose chunks come from two saves", async () => {
      const first = await repos.jobs.saveCheckpoint("acme", "slack", "JOB1", bigObject(800_000));
      const firstRows = await chunkRows(jobPk, keys.checkpointPrefix("JOB1"));
      await repos.jobs.saveCheckpoint("acme", "slack", "JOB1", bigObject(800_000));
      // A save that crashed half-way: chunk 0 is still from the first save.
      await dynamo.doc.send(new PutCommand({ TableName: tableName, Item: firstRows[0] }));
      await expect(repos.jobs.loadCheckpoint("acme", "slack", "JOB1", first.chunks)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it("loads nothing for zero chunks", async () => {
      expect(await repos.jobs.loadCheckpoint("acme", "slack", "JOB1", 0)).toBeUndefined();
    });
  });
});
