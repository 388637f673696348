/**
 * Reference data for an agent's preamble, within a token budget. The most useful items come first: those matching
 * the caller's `query` (the whole query as a lookup, then each meaningful word of it), then the rest of every type in a
 * stable order (by name), shared round-robin between types so one large type cannot crowd out a small one. Objects
 * are included whole when they fit, never cut. Every type that does not fit whole gets a note telling the agent to
 * use the lookup endpoint for the rest.
 *
 * The budget is spent on `text` (estimated at 4 characters per token). Each item line of the text is exactly the
 * item's compact JSON, so `referenceData` (the same items) is no larger than the text that was budgeted.
 */
import type { LookupIndex } from "./index.js";
import { tokenize } from "./normalize.js";
import { lookupItems } from "./ranking.js";

/** The estimate the budget uses: 4 characters per token. */
export const CHARS_PER_TOKEN = 4;

/** Estimated tokens of a text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** An item as Waygate's `ReferenceDataContextSchema` has it. */
export interface ContextItem {
  id: string;
  name: string;
  metadata?: Record<string, unknown>;
}

export type ContextSection =
  | {
      dataType: string;
      syncType: "list";
      index: LookupIndex /** The lookup URL up to and including its `?` or `&`, where `query=<name>` follows. */;
      lookupPath?: string;
    }
  | {
      dataType: string;
      syncType: "object";
      /** undefined when never synced. */
      object: unknown;
      /** Where the whole object can be fetched. */
      fetchPath?: string;
    };

export interface RenderContextOptions {
  maxTokens: number;
  query?: string;
  integrationId?: string;
  connectionId?: string;
}

export interface ContextResult {
  referenceData: Record<string, ContextItem[]>;
  objects: Record<string, unknown>;
  text: string;
  truncated: Record<string, boolean>;
  estimatedTokens: number;
}

/** Words that say nothing about which item is meant; they would prefix-match half of any list. */
const STOPWORDS = new Set(
  "the and for with from into onto that this what who whom whose which when where how are was were has have had not but you your our their them they his her its about please send message post ask tell show find get set add make create update delete list all any some channel channels user users team"
    .split(" ")
    .filter((w) => w.length >= 3),
);
/** Query matches taken per type before the stable order takes over. */
const MATCHES_PER_QUERY = 20;
const MATCHES_PER_WORD = 10;

interface ListState {
  section: Extract<ContextSection, { syncType: "list" }>;
  /** Active items, most useful first. */
  order: number[];
  /** Next position in `order`. */
  next: number;
  lines: string[];
  items: ContextItem[];
  full: boolean;
  total: number;
}

/**
 * Renders the context of `sections` within `options.maxTokens`. Inactive and deleted items are left out. The result's
 * `truncated[dataType]` is true when a type is not complete in it. The skeleton (intro, one header and at most one
 * note per type) is always rendered, so a budget too small even for that yields `estimatedTokens` above `maxTokens`
 * and no items.
 */
export function renderContext(sections: readonly ContextSection[], options: RenderContextOptions): ContextResult {
  const budget = Math.max(0, Math.floor(options.maxTokens)) * CHARS_PER_TOKEN;
  const referenceData: Record<string, ContextItem[]> = {};
  const objects: Record<string, unknown> = {};
  const truncated: Record<string, boolean> = {};

  const intro = introLine(options);
  const lists: ListState[] = [];
  const objectText = new Map<string, { header: string; body?: string; note?: string }>();
  // Fixed text first: intro, headers and the longest form of every note, so adding items can never push the notes out.
  let used = intro.length + 1;
  for (const section of sections) {
    if (section.syncType === "list") {
      const order = rankedOrder(section.index, options.query);
      const state: ListState = {
        section,
        order,
        next: 0,
        lines: [],
        items: [],
        full: false,
        total: order.length,
      };
      lists.push(state);
      used += `## ${section.dataType} (${state.total} of ${state.total} items)`.length + 2;
      used += truncationNote(section, state.total, options).length + 1;
    } else {
      const header = `## ${section.dataType} (object)`;
      used += header.length + 2;
      objectText.set(section.dataType, { header });
    }
  }

  // Objects are whole or absent; they are placed before the items that only fill the remaining budget.
  for (const section of sections) {
    if (section.syncType !== "object") continue;
    const entry = objectText.get(section.dataType)!;
    if (section.object === undefined) {
      entry.note = "(not synced yet)";
      used += entry.note.length + 1;
      truncated[section.dataType] = false;
      continue;
    }
    const body = JSON.stringify(section.object);
    if (used + body.length + 1 <= budget) {
      entry.body = body;
      used += body.length + 1;
      objects[section.dataType] = section.object;
      truncated[section.dataType] = false;
    } else {
      entry.note = objectTooLargeNote(section, estimateTokens(body), options);
      used += entry.note.length + 1;
      truncated[section.dataType] = true;
    }
  }

  // Round-robin over the list types, one item each per turn, until nothing more fits.
  let progressing = true;
  while (progressing) {
    progressing = false;
    for (const state of lists) {
      if (state.full || state.next >= state.order.length) continue;
      const i = state.order[state.next]!;
      const item = contextItem(state.section.index, i);
      const line = JSON.stringify(item);
      if (used + line.length + 1 > budget) {
        state.full = true;
        continue;
      }
      used += line.length + 1;
      state.lines.push(line);
      state.items.push(item);
      state.next++;
      progressing = true;
    }
  }

  const parts: string[] = [intro];
  for (const section of sections) {
    if (section.syncType === "list") {
      const state = lists.find((s) => s.section === section)!;
      const complete = state.next >= state.order.length;
      referenceData[section.dataType] = state.items;
      truncated[section.dataType] = !complete;
      parts.push("", listHeader(section.dataType, state.items.length, state.total), ...state.lines);
      if (!complete) parts.push(truncationNote(section, state.total - state.items.length, options));
    } else {
      const entry = objectText.get(section.dataType)!;
      parts.push("", entry.header);
      if (entry.body !== undefined) parts.push(entry.body);
      if (entry.note !== undefined) parts.push(entry.note);
    }
  }
  const text = parts.join("\n");
  return { referenceData, objects, text, truncated, estimatedTokens: estimateTokens(text) };
}

function introLine(options: RenderContextOptions): string {
  const where = options.integrationId
    ? ` for integration ${options.integrationId}${options.connectionId ? ` (connection ${options.connectionId})` : ""}`
    : "";
  return `Reference data${where}. Use these IDs when calling actions; each item line is {"id","name","metadata"}.`;
}

function listHeader(dataType: string, shown: number, total: number): string {
  return shown === total ? `## ${dataType} (${total} items)` : `## ${dataType} (${shown} of ${total} items)`;
}

function truncationNote(
  section: Extract<ContextSection, { syncType: "list" }>,
  remaining: number,
  options: RenderContextOptions,
): string {
  const path = section.lookupPath ?? `${basePath(options)}/${section.dataType}/lookup${connectionQuery(options, "&")}`;
  return `(${remaining} more ${section.dataType} not shown: resolve a name with GET ${path}query=<name>)`;
}

function objectTooLargeNote(
  section: Extract<ContextSection, { syncType: "object" }>,
  tokens: number,
  options: RenderContextOptions,
): string {
  const path = section.fetchPath ?? `${basePath(options)}/${section.dataType}${connectionQuery(options, "")}`;
  return `(${section.dataType} is too large for this context, about ${tokens} tokens: fetch it with GET ${path})`;
}

function basePath(options: RenderContextOptions): string {
  return `/api/v1/integrations/${options.integrationId ?? "{integrationId}"}/reference-data`;
}

/** `?connectionId=…` for a named connection (then `next`), or `?` / "" for the default one. */
function connectionQuery(options: RenderContextOptions, next: "&" | ""): string {
  const named = options.connectionId !== undefined && options.connectionId !== "default";
  if (named) return `?connectionId=${options.connectionId}${next}`;
  return next === "&" ? "?" : "";
}

function contextItem(index: LookupIndex, i: number): ContextItem {
  const item: ContextItem = { id: index.ids[i]!, name: index.names[i]! };
  const metadata = index.metadata[i]!;
  for (const _ in metadata) {
    item.metadata = metadata as Record<string, unknown>;
    break;
  }
  return item;
}

/** Active items: query matches first (whole query, then each meaningful word), then the rest by name. */
function rankedOrder(index: LookupIndex, query: string | undefined): number[] {
  const order: number[] = [];
  const taken = new Uint8Array(index.size);
  const take = (i: number) => {
    if (taken[i] || index.statusCodes[i] !== 0) return;
    taken[i] = 1;
    order.push(i);
  };
  const q = query?.trim();
  if (q) {
    for (const i of lookupItems(index, q, { limit: MATCHES_PER_QUERY })) take(i);
    const words = [...new Set(tokenize(q))].filter((w) => w.length >= 3 && !STOPWORDS.has(w));
    if (words.length > 1) {
      for (const word of words) for (const i of lookupItems(index, word, { limit: MATCHES_PER_WORD })) take(i);
    }
  }
  for (const i of index.byName()) take(i);
  return order;
}
