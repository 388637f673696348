import { describe, expect, it } from "vitest";
import { type Pagination, paginationSchema } from "../../../shared/domain/source-config.js";
import type { InvokeResponse } from "../../../shared/gateway/client.js";
import { GatewayError } from "../../../shared/gateway/errors.js";
import {
  firstPage,
  nextPage,
  type PageState,
  PaginationLoopError,
  queryParamsOf,
} from "../../../shared/gateway/pagination.js";

const config = (input: unknown): Pagination => paginationSchema.parse(input);
const response = (data: unknown, meta: InvokeResponse["meta"] = {}): InvokeResponse => ({ data, meta });

function thrown(fn: () => unknown): PaginationLoopError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PaginationLoopError);
    expect(error).toBeInstanceOf(GatewayError);
    return error as PaginationLoopError;
  }
  throw new Error("expected a PaginationLoopError");
}

/** Checkpoints store the state as JSON: it must survive the round trip. */
const roundTrip = (state: PageState): PageState => JSON.parse(JSON.stringify(state)) as PageState;

describe("none", () => {
  it("asks once with the base input and is done after the first page", () => {
    const pagination = config({ strategy: "none" });
    const first = firstPage(pagination, { team: "T1" });
    expect(first).toMatchObject({ page: 0, input: { team: "T1" }, done: false });
    expect(nextPage(pagination, first, response({ next: "x" }), 10).done).toBe(true);
  });
});

describe("cursor", () => {
  const pagination = config({
    strategy: "cursor",
    cursorPath: "response_metadata.next_cursor",
    cursorParam: "cursor",
    limitParam: "limit",
    pageSize: 200,
  });
  const page = (cursor: string | null | undefined, n = 1) =>
    response({ members: Array.from({ length: n }, (_, i) => ({ id: i })), response_metadata: { next_cursor: cursor } });

  it("adds the limit param to the first input and sends the response's cursor next", () => {
    const first = firstPage(pagination, { include_locale: true });
    expect(first.input).toEqual({ include_locale: true, limit: 200 });
    const second = nextPage(pagination, first, page("dXNlcjpVMDI="), 1);
    expect(second).toMatchObject({
      page: 1,
      done: false,
      input: { include_locale: true, limit: 200, cursor: "dXNlcjpVMDI=" },
    });
    const third = nextPage(pagination, roundTrip(second), page("dXNlcjpVMDM="), 1);
    expect(third.input.cursor).toBe("dXNlcjpVMDM=");
    expect(third.page).toBe(2);
  });

  it.each([
    ["an empty string", ""],
    ["null", null],
    ["a missing field", undefined],
  ])("ends when the cursor is %s", (_label, cursor) => {
    const first = firstPage(pagination, {});
    expect(nextPage(pagination, first, page(cursor), 1).done).toBe(true);
  });

  it("goes on after an empty page that carries a next cursor", () => {
    const first = firstPage(pagination, {});
    const second = nextPage(pagination, first, page("c2"), 0);
    expect(second.done).toBe(false);
    expect(second.input.cursor).toBe("c2");
  });

  it("reads a JSONPath cursor path", () => {
    const jsonPathPagination = config({ strategy: "cursor", cursorPath: "$.paging.next.after", cursorParam: "after" });
    const first = firstPage(jsonPathPagination, {});
    expect(first.input).toEqual({});
    const second = nextPage(jsonPathPagination, first, response({ paging: { next: { after: 400 } } }), 1);
    expect(second.input).toEqual({ after: "400" });
  });

  it("throws PAGINATION_LOOP when a cursor repeats, even after a checkpoint round trip", () => {
    let state = firstPage(pagination, {});
    state = nextPage(pagination, state, page("a"), 1);
    state = roundTrip(nextPage(pagination, state, page("b"), 1));
    const error = thrown(() => nextPage(pagination, state, page("a"), 1));
    expect(error.code).toBe("PAGINATION_LOOP");
    expect(error.kind).toBe("configuration");
    expect(error.message).toContain("a");
  });

  it("throws PAGINATION_LOOP when the upstream answers the cursor it was sent", () => {
    const second = nextPage(pagination, firstPage(pagination, {}), page("same"), 1);
    expect(thrown(() => nextPage(pagination, second, page("same"), 1)).code).toBe("PAGINATION_LOOP");
  });

  it("throws PAGINATION_LIMIT when one more page would exceed maxPages", () => {
    const limited = config({ strategy: "cursor", cursorPath: "next", cursorParam: "cursor", maxPages: 2 });
    const first = firstPage(limited, {});
    const second = nextPage(limited, first, response({ next: "p2" }), 1);
    expect(second.page).toBe(1);
    const error = thrown(() => nextPage(limited, second, response({ next: "p3" }), 1));
    expect(error.code).toBe("PAGINATION_LIMIT");
    expect(error.kind).toBe("configuration");
  });

  it("does not throw at maxPages when the last allowed page ends the source", () => {
    const limited = config({ strategy: "cursor", cursorPath: "next", cursorParam: "cursor", maxPages: 2 });
    const second = nextPage(limited, firstPage(limited, {}), response({ next: "p2" }), 1);
    expect(nextPage(limited, second, response({ next: "" }), 1).done).toBe(true);
  });
});

describe("offset", () => {
  const pagination = config({ strategy: "offset", offsetParam: "offset", limitParam: "limit", pageSize: 3 });

  it("starts at offset 0 and moves by the page size while pages are full", () => {
    const first = firstPage(pagination, { archived: false });
    expect(first.input).toEqual({ archived: false, offset: 0, limit: 3 });
    const second = nextPage(pagination, first, response([]), 3);
    expect(second.input).toEqual({ archived: false, offset: 3, limit: 3 });
    const third = nextPage(pagination, roundTrip(second), response([]), 3);
    expect(third.input.offset).toBe(6);
    expect(third.page).toBe(2);
  });

  it("ends on a short page", () => {
    expect(nextPage(pagination, firstPage(pagination, {}), response([]), 2).done).toBe(true);
  });

  it("ends on an empty page", () => {
    expect(nextPage(pagination, firstPage(pagination, {}), response([]), 0).done).toBe(true);
  });

  it("uses the schema defaults", () => {
    expect(firstPage(config({ strategy: "offset" }), {}).input).toEqual({ offset: 0, limit: 100 });
  });

  it("throws PAGINATION_LIMIT past maxPages", () => {
    const limited = config({ strategy: "offset", pageSize: 1, maxPages: 1 });
    expect(thrown(() => nextPage(limited, firstPage(limited, {}), response([1]), 1)).code).toBe("PAGINATION_LIMIT");
  });
});

describe("page", () => {
  const pagination = config({ strategy: "page", pageParam: "page", limitParam: "per_page", pageSize: 2 });

  it("starts at startPage and counts up while pages are full", () => {
    const first = firstPage(pagination, { visibility: "all" });
    expect(first.input).toEqual({ visibility: "all", page: 1, per_page: 2 });
    const second = nextPage(pagination, first, response([{}, {}]), 2);
    expect(second.input).toEqual({ visibility: "all", page: 2, per_page: 2 });
    expect(nextPage(pagination, second, response([{}, {}]), 2).input.page).toBe(3);
  });

  it("ends on a page shorter than pageSize", () => {
    const first = firstPage(pagination, {});
    expect(nextPage(pagination, first, response([{}]), 1).done).toBe(true);
  });

  it("honours a zero-based startPage", () => {
    const zero = config({ strategy: "page", startPage: 0, pageSize: 1 });
    const first = firstPage(zero, {});
    expect(first.input).toEqual({ page: 0, per_page: 1 });
    expect(nextPage(zero, first, response([{}]), 1).input.page).toBe(1);
  });

  it("throws PAGINATION_LIMIT past maxPages", () => {
    const limited = config({ strategy: "page", pageSize: 1, maxPages: 3 });
    let state = firstPage(limited, {});
    state = nextPage(limited, state, response([{}]), 1);
    state = nextPage(limited, state, response([{}]), 1);
    expect(thrown(() => nextPage(limited, state, response([{}]), 1)).code).toBe("PAGINATION_LIMIT");
  });
});

describe("link", () => {
  const pagination = config({ strategy: "link", nextLinkPath: "$['@odata.nextLink']" });
  const graphPage = (next?: string) => response({ value: [{ id: "1" }], ...(next ? { "@odata.nextLink": next } : {}) });

  it("sends the next link's query parameters merged over the base input", () => {
    const first = firstPage(pagination, { $top: 5, $select: "id,displayName" });
    expect(first.input).toEqual({ $top: 5, $select: "id,displayName" });
    const second = nextPage(
      pagination,
      first,
      graphPage("https://graph.microsoft.com/v1.0/users?$top=5&$skiptoken=X%2B1"),
      1,
    );
    expect(second.input).toEqual({ $top: "5", $select: "id,displayName", $skiptoken: "X+1" });
  });

  it("replaces the previous link's parameters instead of accumulating them", () => {
    let state = firstPage(pagination, { base: 1 });
    state = nextPage(pagination, state, graphPage("https://x/users?a=1&only_first=yes"), 1);
    state = nextPage(pagination, roundTrip(state), graphPage("https://x/users?a=2"), 1);
    expect(state.input).toEqual({ base: 1, a: "2" });
  });

  it("ends when there is no next link", () => {
    expect(nextPage(pagination, firstPage(pagination, {}), graphPage(), 1).done).toBe(true);
  });

  it("reads HubSpot's nested link with a dot path", () => {
    const hubspot = config({ strategy: "link", nextLinkPath: "$.paging.next.link" });
    const next = nextPage(
      hubspot,
      firstPage(hubspot, {}),
      response({
        results: [],
        paging: { next: { after: "20", link: "https://api.hubapi.com/crm/v3/objects?after=20" } },
      }),
      0,
    );
    expect(next.input).toEqual({ after: "20" });
  });

  it("throws PAGINATION_LOOP when a link repeats", () => {
    const link = "https://x/users?$skiptoken=abc";
    const second = nextPage(pagination, firstPage(pagination, {}), graphPage(link), 1);
    expect(thrown(() => nextPage(pagination, second, graphPage(link), 1)).code).toBe("PAGINATION_LOOP");
  });

  it("accepts relative links", () => {
    expect(queryParamsOf("/users?page=2&page=3&x=%20y")).toEqual({ page: "3", x: " y" });
  });
});

describe("gateway", () => {
  const pagination = config({ strategy: "gateway" });
  const withToken = (token: string | null | undefined, hasMore?: boolean) =>
    response([], {
      pagination: {
        ...(token === undefined ? {} : { continuationToken: token }),
        ...(hasMore === undefined ? {} : { hasMore }),
      },
    });

  it("sends meta.pagination.continuationToken back as input.continuationToken", () => {
    const first = firstPage(pagination, { q: 1 });
    expect(first.input).toEqual({ q: 1 });
    const second = nextPage(pagination, first, withToken("tok-2", true), 10);
    expect(second.input).toEqual({ q: 1, continuationToken: "tok-2" });
    expect(nextPage(pagination, second, withToken("tok-3", true), 10).input.continuationToken).toBe("tok-3");
  });

  it("ends when hasMore is false even with a token", () => {
    expect(nextPage(pagination, firstPage(pagination, {}), withToken("tok", false), 1).done).toBe(true);
  });

  it.each([
    ["no token", undefined],
    ["a null token", null],
  ])("ends with %s", (_label, token) => {
    expect(nextPage(pagination, firstPage(pagination, {}), withToken(token, true), 1).done).toBe(true);
  });

  it("fails as PAGINATION_UNSUPPORTED when the gateway answers without meta.pagination (Waygate never pages)", () => {
    let error: unknown;
    try {
      nextPage(pagination, firstPage(pagination, {}), response([]), 1);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ kind: "configuration", code: "PAGINATION_UNSUPPORTED" });
    expect((error as Error).message).toMatch(/Waygate's HTTP invoke does not page/);
  });

  it("goes on after an empty page with a token", () => {
    expect(nextPage(pagination, firstPage(pagination, {}), withToken("t2", true), 0).done).toBe(false);
  });

  it("throws PAGINATION_LOOP when a token repeats", () => {
    const second = nextPage(pagination, firstPage(pagination, {}), withToken("t", true), 1);
    expect(thrown(() => nextPage(pagination, second, withToken("t", true), 1)).code).toBe("PAGINATION_LOOP");
  });
});

describe("state", () => {
  it("leaves a done state as it is", () => {
    const pagination = config({ strategy: "none" });
    const done = nextPage(pagination, firstPage(pagination, {}), response([]), 0);
    expect(nextPage(pagination, done, response([]), 0)).toBe(done);
  });

  it("does not mutate the state or the base input", () => {
    const pagination = config({ strategy: "cursor", cursorPath: "next", cursorParam: "cursor" });
    const base = { a: 1 };
    const first = firstPage(pagination, base);
    const snapshot = JSON.stringify(first);
    nextPage(pagination, first, response({ next: "n" }), 1);
    expect(JSON.stringify(first)).toBe(snapshot);
    expect(base).toEqual({ a: 1 });
  });

  it("keeps seen cursors small however long the cursor is", () => {
    const pagination = config({ strategy: "cursor", cursorPath: "next", cursorParam: "cursor" });
    const state = nextPage(pagination, firstPage(pagination, {}), response({ next: "x".repeat(5000) }), 1);
    expect(state.seenCursors).toHaveLength(1);
    expect(state.seenCursors[0]?.length).toBeLessThanOrEqual(16);
  });
});
