/**
 * Row helpers shared by the repositories: turning stored rows back into domain objects, checking paging input,
 * and building update expressions whose attribute names never collide with DynamoDB reserved words.
 */
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import { InternalError, ValidationError } from "../domain/errors.js";
import type { PageKey } from "./ports.js";

/** The entity tag every row carries, so mixed queries (jobs beside their checkpoints) can tell rows apart. */
export type Entity =
  | "source"
  | "connection"
  | "partition"
  | "item"
  | "object"
  | "manifest"
  | "indexSnapshot"
  | "job"
  | "checkpoint"
  | "apiKey"
  | "apiKeyListing"
  | "change"
  | "commit"
  | "webhook"
  | "erasure"
  | "gatewayCredentials"
  | "discovery";

export type Row = Record<string, unknown>;

const STORAGE_ATTRIBUTES = new Set(["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "entity"]);

/** The row without its key, index and entity attributes. */
export function stripRow(row: Row): Row {
  const out: Row = {};
  for (const [name, value] of Object.entries(row)) if (!STORAGE_ATTRIBUTES.has(name)) out[name] = value;
  return out;
}

/**
 * Parses a stored row into its domain type. A row that no longer parses is our fault (a bad write or a schema change
 * without a migration), never the caller's, hence InternalError.
 */
export function parseRow<S extends z.ZodType>(schema: S, row: Row, what: string): z.output<S> {
  const result = schema.safeParse(stripRow(row));
  if (result.success) return result.data;
  const first = result.error.issues[0];
  throw new InternalError(`Stored ${what} row ${String(row.PK)} / ${String(row.SK)} is invalid`, {
    field: first?.path.map(String).join("."),
    issue: first?.message,
  });
}

/** Page sizes callers may ask for; DynamoDB would accept more, but a handler never needs more in one call. */
export const MAX_PAGE_LIMIT = 1_000;

/** ValidationError unless `limit` is an integer in 1..MAX_PAGE_LIMIT. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ValidationError(`limit must be an integer between 1 and ${MAX_PAGE_LIMIT}`, { field: "limit" });
  }
  return limit;
}

/**
 * Checks a caller-supplied paging key before it reaches DynamoDB: it must hold exactly the expected key attributes as
 * strings, and the fixed ones (the partition key being queried) must match. A key from another tenant, partition or
 * query is a ValidationError here, instead of a DynamoDB ValidationException or, worse, a read elsewhere.
 */
export function checkStartKey(
  startKey: PageKey | undefined,
  fixed: Record<string, string>,
  variable: string[],
  prefixes: Record<string, string> = {},
): Record<string, string> | undefined {
  if (startKey === undefined) return undefined;
  const expected = new Set([...Object.keys(fixed), ...variable]);
  const names = Object.keys(startKey);
  const valid =
    names.length === expected.size &&
    names.every((name) => expected.has(name) && typeof startKey[name] === "string") &&
    Object.entries(fixed).every(([name, value]) => startKey[name] === value) &&
    Object.entries(prefixes).every(([name, prefix]) => String(startKey[name]).startsWith(prefix));
  if (!valid) throw new ValidationError("Invalid paging cursor for this query", { field: "cursor" });
  return startKey as Record<string, string>;
}

/**
 * Collects SET/REMOVE clauses and a condition with generated placeholders. Attribute names are always aliased
 * (`#status`, `#name` are reserved words).
 */
export class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private counter = 0;

  /** The alias of an attribute name. */
  n(attribute: string): string {
    const alias = `#${attribute}`;
    this.names[alias] = attribute;
    return alias;
  }

  /** A placeholder bound to `value`. */
  v(value: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  set(attribute: string, value: unknown): this {
    this.sets.push(`${this.n(attribute)} = ${this.v(value)}`);
    return this;
  }

  /** `attribute = <expression>` for if_not_exists and arithmetic. */
  setExpression(attribute: string, expression: string): this {
    this.sets.push(`${this.n(attribute)} = ${expression}`);
    return this;
  }

  remove(...attributes: string[]): this {
    for (const attribute of attributes) this.removes.push(this.n(attribute));
    return this;
  }

  /** Sets each attribute of `values`, skipping undefined ones. */
  setAll(values: Record<string, unknown>): this {
    for (const [attribute, value] of Object.entries(values)) if (value !== undefined) this.set(attribute, value);
    return this;
  }

  get updateExpression(): string {
    const parts: string[] = [];
    if (this.sets.length > 0) parts.push(`SET ${this.sets.join(", ")}`);
    if (this.removes.length > 0) parts.push(`REMOVE ${this.removes.join(", ")}`);
    return parts.join(" ");
  }

  /** Names and values for the command; DynamoDB rejects an empty values map, so it is left out when empty. */
  get attributes(): {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return Object.keys(this.values).length > 0
      ? { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values }
      : { ExpressionAttributeNames: this.names };
  }
}

/** What `queryPrefix` reads: every row of `pk` whose sort key starts with `prefix`, optionally projected. */
export interface PrefixQuery {
  pk: string;
  prefix: string;
  projection?: string;
  names?: Record<string, string>;
  /** Only rows whose sort key is at most this (itself starting with the prefix): the front of the prefix. */
  until?: string;
  /** A strongly consistent read (twice the read units): for rows this invocation has just written. */
  consistent?: boolean;
}

/** Yields every row under a key prefix, page after page (the repositories' "list all" reads). */
export async function* queryPrefix(
  doc: DynamoDBDocumentClient,
  tableName: string,
  query: PrefixQuery,
): AsyncGenerator<Row> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        ...(query.until === undefined
          ? {
              KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
              ExpressionAttributeValues: { ":pk": query.pk, ":prefix": query.prefix },
            }
          : {
              KeyConditionExpression: "PK = :pk AND SK BETWEEN :prefix AND :until",
              ExpressionAttributeValues: { ":pk": query.pk, ":prefix": query.prefix, ":until": query.until },
            }),
        ProjectionExpression: query.projection,
        ExpressionAttributeNames: query.names && Object.keys(query.names).length > 0 ? query.names : undefined,
        ExclusiveStartKey: startKey,
        ...(query.consistent ? { ConsistentRead: true } : {}),
      }),
    );
    yield* page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** A Query's conditions, without the paging fields `fillPage` manages. */
export type PageQuery = Omit<QueryCommandInput, "TableName" | "Limit" | "ExclusiveStartKey">;

/**
 * Fills one page of at most `limit` rows from a (usually filtered) Query, reading `readAhead(remaining)` rows per
 * request. When a request returns more rows than fit, `nextKey` is the key of the last row returned, so the next page
 * starts right after it.
 */
export async function fillPage<T>(
  doc: DynamoDBDocumentClient,
  tableName: string,
  query: PageQuery,
  page: {
    limit: number;
    startKey?: Record<string, unknown>;
    readAhead: (remaining: number) => number;
    /** Stop once the rows taken pass this many bytes of JSON (at least one row is always taken). */
    maxBytes?: number;
  },
  parse: (row: Row) => T,
): Promise<{ items: T[]; nextKey?: Record<string, unknown> }> {
  const items: T[] = [];
  let startKey = page.startKey;
  let nextKey: Record<string, unknown> | undefined;
  let bytes = 0;
  do {
    const remaining = page.limit - items.length;
    const result = await doc.send(
      new QueryCommand({
        ...query,
        TableName: tableName,
        Limit: page.readAhead(remaining),
        ExclusiveStartKey: startKey,
      }),
    );
    const rows = (result.Items ?? []) as Row[];
    let taken = rows.slice(0, remaining);
    if (page.maxBytes !== undefined) {
      let fit = 0;
      while (fit < taken.length && (items.length + fit === 0 || bytes < page.maxBytes)) {
        bytes += Buffer.byteLength(JSON.stringify(taken[fit]));
        fit++;
      }
      taken = taken.slice(0, fit);
    }
    for (const row of taken) items.push(parse(row));
    if (taken.length < rows.length) {
      const last = taken[taken.length - 1] as Row;
      nextKey = { PK: last.PK, SK: last.SK };
      break;
    }
    nextKey = result.LastEvaluatedKey;
    startKey = result.LastEvaluatedKey;
  } while (startKey && items.length < page.limit && !(page.maxBytes !== undefined && bytes >= page.maxBytes));
  return nextKey ? { items, nextKey } : { items };
}
