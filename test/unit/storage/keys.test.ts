import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../shared/domain/errors.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import {
  dataPk,
  duePk,
  dueShard,
  hashApiKey,
  integrationPk,
  keys,
  partitionRefFromDueSk,
} from "../../../shared/storage/keys.js";

const ref: PartitionRef = { tenantId: "acme", integrationId: "slack", connectionId: "default", dataType: "users" };

describe("keys", () => {
  it("builds the documented layout, every tenant key starting with T#{tenant}", () => {
    expect(keys.source("acme", "slack", "users")).toEqual({ PK: "T#acme#I#slack", SK: "SRC#users" });
    expect(keys.connection("acme", "slack", "c1")).toEqual({ PK: "T#acme#I#slack", SK: "CONN#c1" });
    expect(keys.partition(ref)).toEqual({ PK: "T#acme#I#slack", SK: "PART#default#users" });
    expect(keys.item(ref, "U1")).toEqual({ PK: "T#acme#I#slack#C#default#D#users", SK: "ITEM#U1" });
    expect(keys.objectChunk(ref, 3, 1)).toEqual({
      PK: "T#acme#I#slack#C#default#D#users",
      SK: "OBJ#0000000003#0001",
    });
    expect(keys.manifestChunk(ref, 12, 0).SK).toBe("MAN#0000000012#0000");
    expect(keys.job("acme", "slack", "01J")).toEqual({ PK: "T#acme#I#slack", SK: "JOB#01J" });
    expect(keys.checkpointChunk("acme", "slack", "01J", 2)).toEqual({ PK: "T#acme#I#slack", SK: "JOB#01J#CP#0002" });
    expect(keys.apiKeyListing("acme", "K1")).toEqual({ PK: "T#acme", SK: "APIKEY#K1" });
    expect(keys.apiKeyRef("acme", "K1")).toEqual({ GSI1PK: "T#acme#APIKEY#K1", GSI1SK: "KEY" });
    expect(integrationPk("acme", "slack")).toBe("T#acme#I#slack");
    expect(dataPk(ref)).toBe(keys.item(ref, "x").PK);
  });

  it("pads versions and chunk numbers so sort order is numeric order", () => {
    const sks = [2, 10, 1].map((v) => keys.objectChunk(ref, v, 0).SK).sort();
    expect(sks).toEqual([1, 2, 10].map((v) => keys.objectChunk(ref, v, 0).SK));
    expect(keys.objectChunk(ref, 1, 0).SK.startsWith(keys.objectPrefix(1))).toBe(true);
    expect(keys.objectChunk(ref, 10, 0).SK.startsWith(keys.objectPrefix(1))).toBe(false);
    expect(keys.manifestChunk(ref, 5, 9).SK < keys.manifestChunk(ref, 5, 10).SK).toBe(true);
  });

  it("keeps checkpoint chunks out of the job's own key but under the job prefix", () => {
    const chunk = keys.checkpointChunk("acme", "slack", "01J", 0).SK;
    expect(chunk.startsWith(keys.jobPrefix)).toBe(true);
    expect(chunk.startsWith(keys.checkpointPrefix("01J"))).toBe(true);
    expect(chunk).not.toBe(keys.job("acme", "slack", "01J").SK);
  });

  it.each([
    ["tenant with #", () => keys.source("a#b", "slack", "users")],
    ["integration with #", () => keys.source("acme", "sl#ack", "users")],
    ["dataType with #", () => keys.source("acme", "slack", "us#ers")],
    ["connection with #", () => keys.connection("acme", "slack", "c#1")],
    ["empty tenant", () => keys.partition({ ...ref, tenantId: "" })],
    ["leading dash", () => keys.partition({ ...ref, dataType: "-users" })],
    ["129-character ID", () => keys.partition({ ...ref, connectionId: "a".repeat(129) })],
    ["empty externalId", () => keys.item(ref, "")],
    ["513-character externalId", () => keys.item(ref, "x".repeat(513))],
    ["job ID with #", () => keys.job("acme", "slack", "J#1")],
    ["checkpoint of a job ID with #", () => keys.checkpointPrefix("J#1")],
    ["key id with #", () => keys.apiKeyListing("acme", "K#1")],
  ])("rejects a %s with a ValidationError", (_what, build) => {
    expect(build).toThrow(ValidationError);
  });

  it("accepts an externalId containing '#' (it is the last key component)", () => {
    expect(keys.item(ref, "a#b").SK).toBe("ITEM#a#b");
  });

  it("shards the due index stably into 16 shards and reads the partition back from the sort key", () => {
    const shard = dueShard(ref);
    expect(shard).toBe(dueShard({ ...ref }));
    expect(shard).toBeGreaterThanOrEqual(0);
    expect(shard).toBeLessThan(16);
    const due = keys.due(ref, "2030-01-01T00:00:00.000Z");
    expect(due.GSI1PK).toBe(duePk(shard));
    expect(due.GSI1PK).toMatch(/^DUE#\d\d$/);
    expect(due.GSI1SK).toBe("2030-01-01T00:00:00.000Z#acme#slack#default#users");
    expect(partitionRefFromDueSk(due.GSI1SK)).toEqual(ref);
  });

  it("spreads partitions over every shard", () => {
    const shards = new Set<number>();
    for (let n = 0; n < 500; n++) shards.add(dueShard({ ...ref, connectionId: `c${n}` }));
    expect(shards.size).toBe(16);
  });

  it("rejects a malformed due sort key", () => {
    expect(() => partitionRefFromDueSk("2030-01-01T00:00:00.000Z#acme#slack")).toThrow(ValidationError);
  });

  it("hashes API keys with SHA-256 in hex", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
