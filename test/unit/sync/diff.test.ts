import { describe, expect, it } from "vitest";
import type { Manifest, ManifestEntry } from "../../../shared/storage/ports.js";
import {
  classifyChange,
  countActive,
  mergeRows,
  needsWrite,
  nextManifest,
  tally,
  vanishedActive,
} from "../../../shared/sync/diff.js";
import { dropMarker, isSuspiciousDrop } from "../../../shared/sync/drop-guard.js";

const active = (hash: string): ManifestEntry => ({ hash, status: "active" });
const inactive = (hash: string): ManifestEntry => ({ hash, status: "inactive" });
const deleted = (hash: string): ManifestEntry => ({ hash, status: "deleted" });
const manifest = (entries: Record<string, ManifestEntry>): Manifest => new Map(Object.entries(entries));

describe("needsWrite", () => {
  it("skips an item whose row already holds the same hash and status", () => {
    expect(needsWrite(active("h1"), undefined, active("h1"))).toBe(false);
  });

  it("writes a new item, a changed hash and a changed status", () => {
    expect(needsWrite(undefined, undefined, active("h1"))).toBe(true);
    expect(needsWrite(active("h1"), undefined, active("h2"))).toBe(true);
    expect(needsWrite(inactive("h1"), undefined, active("h1"))).toBe(true);
    expect(needsWrite(active("h1"), undefined, deleted("h1"))).toBe(true);
  });

  it("rewrites a duplicate that reverts to the stored version after an earlier page changed it", () => {
    // Page 1 saw h2 (written), page 5 sees h1 again: the row holds h2 now, so h1 must be written back.
    expect(needsWrite(active("h1"), active("h2"), active("h1"))).toBe(true);
  });

  it("does not rewrite a duplicate when neither observation differed from the row", () => {
    expect(needsWrite(active("h1"), active("h1"), active("h1"))).toBe(false);
  });
});

describe("classifyChange", () => {
  it("classifies against the committed entry", () => {
    expect(classifyChange(undefined, active("a"))).toBe("created");
    expect(classifyChange(active("a"), active("a"))).toBe("unchanged");
    expect(classifyChange(active("a"), active("b"))).toBe("updated");
    expect(classifyChange(inactive("a"), active("a"))).toBe("reactivated");
    expect(classifyChange(deleted("a"), active("a"))).toBe("reactivated");
    expect(classifyChange(active("a"), deleted("b"))).toBe("deleted");
    expect(classifyChange(deleted("a"), deleted("a"))).toBe("unchanged");
    expect(classifyChange(deleted("a"), deleted("b"))).toBe("updated");
  });
});

describe("tally", () => {
  it("counts every distinct seen item once against the committed manifest", () => {
    const committed = manifest({ a: active("1"), b: active("2"), c: inactive("3"), d: active("4") });
    const seen = manifest({ a: active("1"), b: active("changed"), c: active("3"), d: deleted("4x"), e: active("5") });
    expect(tally(committed, seen)).toEqual({ found: 5, created: 1, updated: 2, deleted: 1, unchanged: 1 });
  });
});

describe("vanishedActive", () => {
  it("lists active unseen ids, sorted, ignoring inactive ones and excluded ids", () => {
    const base = manifest({ z: active("1"), a: active("2"), m: inactive("3"), k: active("4") });
    const seen = manifest({ k: active("4") });
    expect(vanishedActive(base, seen)).toEqual(["a", "z"]);
    expect(vanishedActive(base, seen, manifest({ z: active("1") }))).toEqual(["a"]);
  });
});

describe("suspicious drop guard", () => {
  it("trips for 10+ active items losing more than half, and for all-gone at any size", () => {
    expect(isSuspiciousDrop(10, 6)).toBe(true);
    expect(isSuspiciousDrop(10, 5)).toBe(false);
    expect(isSuspiciousDrop(9, 9)).toBe(true);
    expect(isSuspiciousDrop(1, 1)).toBe(true);
    expect(isSuspiciousDrop(9, 8)).toBe(false);
    expect(isSuspiciousDrop(0, 0)).toBe(false);
    expect(isSuspiciousDrop(10_000, 10_000)).toBe(true);
  });

  it("fingerprints the same drop the same way and a different drop differently", () => {
    expect(dropMarker(["a", "b"], [])).toBe(dropMarker(["a", "b"], []));
    expect(dropMarker(["a", "b"], [])).not.toBe(dropMarker(["a", "c"], []));
    expect(dropMarker(["ab"], [])).not.toBe(dropMarker(["a", "b"], []));
    expect(dropMarker(["a"], ["b"])).not.toBe(dropMarker(["a", "b"], []));
  });
});

describe("nextManifest", () => {
  it("overlays seen entries, marks deactivated ones inactive and keeps the rest", () => {
    const base = manifest({ a: active("1"), b: active("2"), c: deleted("3") });
    const seen = manifest({ a: active("1b"), d: active("4") });
    const next = nextManifest(base, seen, ["b", "c"]);
    expect(Object.fromEntries(next)).toEqual({ a: active("1b"), b: inactive("2"), c: deleted("3"), d: active("4") });
    expect(countActive(next)).toBe(2);
    // The base is not mutated.
    expect(base.get("b")).toEqual(active("2"));
  });

  it("lets rows win over the committed manifest when reconciling", () => {
    const merged = mergeRows(manifest({ a: active("1") }), manifest({ a: active("2"), orphan: active("9") }));
    expect(Object.fromEntries(merged)).toEqual({ a: active("2"), orphan: active("9") });
  });
});
