/**
 * Pagination strategies (DESIGN.md "Source configuration"), as pure functions over a serializable state, so a sync can
 * store the state in its job checkpoint and resume in another invocation.
 */
import { createHash } from "node:crypto";
import { readValue } from "../domain/paths.js";
import type { Pagination } from "../domain/source-config.js";
import type { InvokeResponse } from "./client.js";
import { GatewayError, PaginationLoopError } from "./errors.js";

export { PaginationLoopError } from "./errors.js";

export interface PageState {
  /** 0-based index of the page `input` asks for; also the `{page}` of the idempotency key. */
  page: number;
  /** The action input for that page. */
  input: Record<string, unknown>;
  /** Fingerprints of every cursor, link or token already sent (loop guard). */
  seenCursors: string[];
  done: boolean;
  /** The input of the first page, which link pages are merged over. Absent in states built by hand. */
  base?: Record<string, unknown>;
}

/** Without `maxPages`, a sync still stops here rather than paging forever. */
export const DEFAULT_MAX_PAGES = 100_000;

/**
 * The state for the first page. `baseInput` is `referenceData.request` merged with e.g. the incremental since param;
 * offset and page strategies add their position and size params, cursor adds its limit param when configured.
 */
export function firstPage(pagination: Pagination, baseInput: Record<string, unknown>): PageState {
  const base = { ...baseInput };
  let input: Record<string, unknown>;
  switch (pagination.strategy) {
    case "none":
    case "link":
    case "gateway":
      input = { ...base };
      break;
    case "cursor":
      input =
        pagination.limitParam !== undefined && pagination.pageSize !== undefined
          ? { ...base, [pagination.limitParam]: pagination.pageSize }
          : { ...base };
      break;
    case "offset":
      input = { ...base, [pagination.offsetParam]: 0, [pagination.limitParam]: pagination.pageSize };
      break;
    case "page":
      input = { ...base, [pagination.pageParam]: pagination.startPage, [pagination.limitParam]: pagination.pageSize };
      break;
  }
  return { page: 0, input, seenCursors: [], done: false, base };
}

/**
 * The state after `response` answered `state`. `itemsOnPage` is the number of records the page held (extracted plus
 * failed). Returns `done: true` when the source is exhausted. Throws PaginationLoopError `PAGINATION_LOOP` when a
 * cursor, link or token repeats, and `PAGINATION_LIMIT` when another page would exceed `maxPages`.
 */
export function nextPage(
  pagination: Pagination,
  state: PageState,
  response: InvokeResponse,
  itemsOnPage: number,
): PageState {
  if (state.done) return state;
  const finished: PageState = { ...state, done: true };
  const advance = (input: Record<string, unknown>, seenCursors: string[]): PageState => {
    const maxPages = "maxPages" in pagination && pagination.maxPages !== undefined ? pagination.maxPages : undefined;
    const limit = maxPages ?? DEFAULT_MAX_PAGES;
    if (state.page + 1 >= limit) {
      throw new PaginationLoopError("PAGINATION_LIMIT", `the source has more than ${limit} pages (maxPages)`, {
        maxPages: limit,
      });
    }
    return { ...state, page: state.page + 1, input, seenCursors, done: false };
  };
  const remember = (kind: string, value: string): string[] => {
    const fingerprint = fingerprintOf(value);
    if (state.seenCursors.includes(fingerprint)) {
      throw new PaginationLoopError(
        "PAGINATION_LOOP",
        `the upstream returned a ${kind} it already returned (${truncate(value)}); stopping to avoid a loop`,
        { page: state.page, [kind]: truncate(value) },
      );
    }
    return [...state.seenCursors, fingerprint];
  };

  switch (pagination.strategy) {
    case "none":
      return finished;
    case "cursor": {
      const cursor = cursorValue(readValue(response.data, pagination.cursorPath));
      // An empty page WITH a cursor goes on (Slack conversations.list does this).
      if (cursor === undefined) return finished;
      return advance({ ...state.input, [pagination.cursorParam]: cursor }, remember("cursor", cursor));
    }
    case "offset": {
      if (itemsOnPage < pagination.pageSize) return finished;
      const current = toInt(state.input[pagination.offsetParam]) ?? 0;
      return advance({ ...state.input, [pagination.offsetParam]: current + pagination.pageSize }, state.seenCursors);
    }
    case "page": {
      if (itemsOnPage < pagination.pageSize) return finished;
      const current = toInt(state.input[pagination.pageParam]) ?? pagination.startPage;
      return advance({ ...state.input, [pagination.pageParam]: current + 1 }, state.seenCursors);
    }
    case "link": {
      const link = cursorValue(readValue(response.data, pagination.nextLinkPath));
      if (link === undefined) return finished;
      return advance({ ...(state.base ?? state.input), ...queryParamsOf(link) }, remember("link", link));
    }
    case "gateway": {
      const paging = response.meta.pagination;
      if (paging === undefined) {
        // Waygate's HTTP invoke neither takes pagination options nor answers `meta.pagination`: failing loudly beats
        // syncing the first page as if it were everything (then deactivating the rest).
        throw new GatewayError(
          "configuration",
          "PAGINATION_UNSUPPORTED",
          "the source uses 'gateway' pagination, but the gateway answered without meta.pagination (Waygate's HTTP " +
            "invoke does not page): use cursor, offset, page or link pagination on the upstream's own parameters",
        );
      }
      const token = paging ? cursorValue(paging.continuationToken) : undefined;
      if (token === undefined || paging?.hasMore === false) return finished;
      return advance({ ...state.input, continuationToken: token }, remember("continuationToken", token));
    }
  }
}

/** A usable cursor is a non-empty string or a number; anything else (null, "", false) means "no next page". */
function cursorValue(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The query parameters of a next-page link (absolute or relative), in order; repeated names keep the last. */
export function queryParamsOf(link: string): Record<string, string> {
  let url: URL;
  try {
    url = new URL(link, "http://link.invalid/");
  } catch {
    return {};
  }
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) params[key] = value;
  return params;
}

function toInt(value: unknown): number | undefined {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) ? n : undefined;
}

/** Cursors can be long; the checkpoint keeps a fixed-size fingerprint of each. */
function fingerprintOf(value: string): string {
  return createHash("sha256").update(value).digest("base64url").slice(0, 16);
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
