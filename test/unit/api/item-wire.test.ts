/**
 * The one wire mapper of a stored item (`itemWire`) serves the item's declared content (`itemContentSchema`) but its
 * internal fields, in the shape the wire schema (and so the OpenAPI document) declares: a field declared as content
 * reaches the wire without a line of its own here.
 */
import { describe, expect, it } from "vitest";
import { itemWire } from "../../../shared/api/query/list.js";
import { referenceItemWireSchema } from "../../../shared/api/query/schemas.js";
import {
  INTERNAL_ITEM_CONTENT,
  type Item,
  itemContentSchema,
  type Partition,
} from "../../../shared/domain/entities.js";

const partition = {
  tenantId: "acme",
  integrationId: "slack",
  connectionId: "default",
  dataType: "users",
  lastSyncedAt: "2026-11-30T10:00:00.000Z",
} as Partition;

const item: Item = {
  externalId: "U01",
  name: "Derek",
  lookup: { name: "derek" },
  metadata: { "profile.email": "derek@example.com" },
  status: "active",
  contentHash: "0123456789abcdef",
  jobId: "job-1",
  change: "created",
  createdAt: "2026-11-30T09:00:00.000Z",
  updatedAt: "2026-11-30T09:30:00.000Z",
};

const served = Object.keys(itemContentSchema.shape).filter(
  (field) => !(INTERNAL_ITEM_CONTENT as readonly string[]).includes(field),
);

describe("itemWire", () => {
  it("serves every declared content field but the internal ones, and nothing the wire schema does not declare", () => {
    const wire = itemWire(item, partition);
    expect(served.length).toBeGreaterThan(0);
    for (const field of served) {
      const value = item[field as keyof Item];
      // An optional field the item has no value for is left out, as JSON would.
      if (value === undefined) expect(wire).not.toHaveProperty(field);
      else expect(wire, field).toHaveProperty(field, value);
    }
    for (const field of INTERNAL_ITEM_CONTENT) expect(wire).not.toHaveProperty(field);
    expect(referenceItemWireSchema.strict().parse(wire)).toEqual(wire);
    const present = Object.keys(referenceItemWireSchema.shape).filter((field) => field in wire);
    expect(Object.keys(wire)).toEqual(present);
  });

  it("declares every served content field in the wire schema, and no internal one", () => {
    const wireFields = Object.keys(referenceItemWireSchema.shape);
    for (const field of served) expect(wireFields).toContain(field);
    for (const field of INTERNAL_ITEM_CONTENT) expect(wireFields).not.toContain(field);
  });

  it("adds the item's place and times to its content", () => {
    expect(itemWire(item, partition)).toEqual({
      id: "default:users:U01",
      externalId: "U01",
      name: "Derek",
      dataType: "users",
      connectionId: "default",
      status: "active",
      metadata: { "profile.email": "derek@example.com" },
      lastSyncedAt: "2026-11-30T10:00:00.000Z",
      updatedAt: "2026-11-30T09:30:00.000Z",
    });
  });
});
