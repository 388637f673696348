/**
 * Extraction: one page of an action's response → reference items (DESIGN.md "Source configuration"). It keeps the
 * behaviour of Waygate's existing configs, never throws on bad upstream data (a bad record is counted as failed with
 * its reason, the rest goes on), and drops secret-looking metadata whatever the config says.
 */
import { createHash } from "node:crypto";
import { type ItemContent, itemContentOf } from "../domain/entities.js";
import { MAX_EXTERNAL_ID_LENGTH } from "../domain/ids.js";
import { type PathSegment, parseJsonPath, readValue } from "../domain/paths.js";
import { isSecretPath } from "../domain/secret-paths.js";
import { lookupFieldsOf, type ReferenceDataConfig } from "../domain/source-config.js";

export { isSecretPath };

/**
 * An item's declared content (`itemContentSchema`: lookup values are trimmed strings keyed by the configured path,
 * metadata values keyed by the path as written, absent fields left out), whether the record is marked deleted, and
 * the hash of both.
 */
export type ExtractedItem = ItemContent & { deleted: boolean; contentHash: string };

export interface ExtractionResult {
  items: ExtractedItem[];
  failed: number;
  /** The first MAX_LISTED_FAILURES failures; `failed` counts them all. */
  failures: { index: number; reason: string }[];
  /** Records the path matched on this page, failed and duplicate ones included (what page-size checks compare). */
  matched: number;
  /** Records dropped because a later record on the same page had the same id. */
  duplicates: number;
}

export const MAX_LISTED_FAILURES = 20;
/** DynamoDB's item limit is 400 KB; an item this large could never be written, so it fails here, alone. */
export const MAX_ITEM_BYTES = 300_000;

/**
 * Extracts the items of one page. The path is evaluated over our restricted grammar (root, members, `[*]`, indexes):
 * a path resolving to ONE array yields its elements (`$` on a root array, `$.members` as well as `$.members[*]`); no
 * match yields no items. Null items, items without an id and ids over 512 characters are failed; numeric ids become
 * strings; a missing name falls back to the id. Duplicate ids on one page keep the last (counted in `duplicates`).
 */
export function extractItems(config: ReferenceDataConfig, data: unknown): ExtractionResult {
  const records = select(data, config.extractionPath ?? "$");
  const lookupPaths = lookupFieldsOf(config);
  // The secret rule holds for every configured path (DESIGN.md "metadataFields"), not only metadata.
  const metadataPaths = config.metadataFields.filter((path) => !isSecretPath(path));
  const secretId = isSecretPath(config.idField);
  const secretName = isSecretPath(config.nameField);
  const byId = new Map<string, ExtractedItem>();
  const failures: { index: number; reason: string }[] = [];
  let failed = 0;
  let duplicates = 0;

  const fail = (index: number, reason: string) => {
    failed++;
    if (failures.length < MAX_LISTED_FAILURES) failures.push({ index, reason });
  };

  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    if (record === null || record === undefined) {
      fail(index, "item is null");
      continue;
    }
    if (typeof record !== "object" || Array.isArray(record)) {
      fail(index, `item is ${Array.isArray(record) ? "an array" : `a ${typeof record}`}, not an object`);
      continue;
    }
    if (secretId) {
      fail(index, `idField '${config.idField}' looks like a secret field; ids are never read from one`);
      continue;
    }
    const externalId = scalarString(readValue(record, config.idField));
    if (externalId === undefined) {
      fail(index, `no usable id at '${config.idField}'`);
      continue;
    }
    if (externalId.length > MAX_EXTERNAL_ID_LENGTH) {
      fail(index, `id at '${config.idField}' is longer than ${MAX_EXTERNAL_ID_LENGTH} characters`);
      continue;
    }
    const name = (secretName ? undefined : scalarString(readValue(record, config.nameField))) ?? externalId;
    const lookup: Record<string, string> = {};
    for (const path of lookupPaths) {
      const value = scalarString(readValue(record, path));
      if (value !== undefined) lookup[path] = value;
    }
    const metadata: Record<string, unknown> = {};
    for (const path of metadataPaths) {
      const value = readValue(record, path);
      if (value !== undefined) metadata[path] = scrubSecrets(value, 0);
    }
    const deleted =
      config.deletedField === undefined
        ? false
        : isDeletedValue(readValue(record, config.deletedField), config.deletedValues);
    const content: ItemContent = { externalId, name, lookup, metadata };
    const canonical = hashedText(content, deleted);
    if (canonical.length * 3 > MAX_ITEM_BYTES && Buffer.byteLength(canonical) > MAX_ITEM_BYTES) {
      fail(index, `item '${externalId.slice(0, 64)}' is larger than ${MAX_ITEM_BYTES} bytes`);
      continue;
    }
    const item: ExtractedItem = { ...content, deleted, contentHash: hashOf(canonical) };
    // Re-insert so the surviving duplicate sits where the last one was.
    if (byId.delete(externalId)) duplicates++;
    byId.set(externalId, item);
  }
  return { items: [...byId.values()], failed, failures, matched: records.length, duplicates };
}

/**
 * DESIGN.md: `deletedField` means deleted only for `true` or one of the source's `deletedValues` (same JSON type and
 * value). A field that changed type (`"false"`, `"0"`, `0`) is never read as deleted.
 */
export function isDeletedValue(value: unknown, deletedValues: readonly unknown[] = []): boolean {
  if (value === true) return true;
  return deletedValues.some((candidate) => candidate === value);
}

/**
 * Object sync keeps the whole `data` of the response, minus secret-looking fields at any depth (the metadata rule);
 * values nested deeper than 32 levels become null, so no later step (hashing, storing, serving) can overflow the stack.
 */
export function extractObject(data: unknown): unknown {
  return scrubSecrets(data, 0, false);
}

/**
 * A stable 16-character hash of an item's content: the same content with keys in another order hashes the same, and
 * any change of a declared content field (`itemContentSchema`) or of `deleted` changes it.
 */
export function contentHash(item: Omit<ExtractedItem, "contentHash">): string {
  return hashOf(hashedText(item, item.deleted));
}

/**
 * What the hash covers: every declared content field and `deleted`. A field absent from the content is absent from
 * the text, so declaring a new field changes no stored item's hash until a record carries a value for it.
 */
function hashedText(content: ItemContent, deleted: boolean): string {
  return canonicalJson({ ...itemContentOf(content), deleted });
}

const MAX_SCRUB_DEPTH = 32;

/** Metadata kept whole (`profile`) must not smuggle nested secrets (`profile.api_token`) past the path check. */
function scrubSecrets(value: unknown, depth: number, forDynamo = true): unknown {
  if (typeof value === "number") return forDynamo ? storableNumber(value) : value;
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_SCRUB_DEPTH) return null;
  if (Array.isArray(value)) return value.map((element) => scrubSecrets(element, depth + 1, forDynamo));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!isSecretPath(key)) out[key] = scrubSecrets(inner, depth + 1, forDynamo);
  }
  return out;
}

/**
 * DynamoDB stores numbers of magnitude 1E-130 to 9.99E+125 (or 0). A metadata number outside that range (1e-300,
 * 1e200 from some upstream) is kept as its string form rather than failing every write of the item.
 */
function storableNumber(value: number): number | string {
  const magnitude = Math.abs(value);
  if (!Number.isFinite(value) || (magnitude !== 0 && (magnitude < 1e-130 || magnitude >= 1e126))) return String(value);
  return value;
}

/** A string (trimmed, non-empty) or a finite number as a string; anything else is no value. */
function scalarString(value: unknown): string | undefined {
  if (typeof value === "string") {
    const trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  return undefined;
}

const segmentCache = new Map<string, PathSegment[]>();

/** Evaluates an extraction path; a single array result yields its elements. Invalid paths select nothing. */
function select(data: unknown, path: string): unknown[] {
  let segments = segmentCache.get(path);
  if (!segments) {
    const parsed = parseJsonPath(path);
    if (!parsed.ok) return [];
    segments = parsed.segments;
    if (segmentCache.size < 1_000) segmentCache.set(path, segments);
  }
  const results = evaluate(data, segments);
  if (results.length === 1 && Array.isArray(results[0])) return results[0];
  return results;
}

/**
 * Our JSONPath subset, evaluated directly: same results as jsonpath-plus with `eval: false` on these paths, without
 * its special readings of member names (`@…`, `~`, `^`, `length`), which tenant data may well use.
 */
function evaluate(data: unknown, segments: readonly PathSegment[]): unknown[] {
  let current: unknown[] = data === undefined ? [] : [data];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || typeof value !== "object") continue;
      if (segment.kind === "wildcard") {
        for (const child of Array.isArray(value) ? value : Object.values(value)) {
          if (child !== undefined) next.push(child);
        }
        continue;
      }
      let child: unknown;
      if (Array.isArray(value)) {
        const index = segment.kind === "index" ? segment.index : /^\d+$/.test(segment.name) ? Number(segment.name) : -1;
        child = index >= 0 && index < value.length ? value[index] : undefined;
      } else {
        const key = segment.kind === "index" ? String(segment.index) : segment.name;
        child = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
      }
      if (child !== undefined) next.push(child);
    }
    current = next;
  }
  return current;
}

/** JSON with object keys sorted at every level, so equal content is equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    return text === undefined ? "null" : text;
  }
  if (Array.isArray(value)) return `[${value.map((element) => canonicalJson(element)).join(",")}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner === undefined || typeof inner === "function" || typeof inner === "symbol") continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(inner)}`);
  }
  return `{${parts.join(",")}}`;
}

function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
