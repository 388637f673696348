/**
 * The sample gateway's actions: pure functions from the datasets and an action input to the upstream body, shaped and
 * paged like the real APIs (Slack cursors with an empty page mid-stream, GitHub page/per_page, Graph
 * `@odata.nextLink`, a gateway-paged variant with `meta.pagination.continuationToken`).
 */
import type { SampleDatasets, SlackUser } from "./datasets.js";

/** A client error of the action (bad input): answered in the Waygate error envelope. */
export class ActionError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ActionResult {
  data: unknown;
  /** Gateway-level pagination, returned in `meta.pagination`. */
  pagination?: { continuationToken: string | null; hasMore: boolean };
}

export type ActionHandler = (data: SampleDatasets, input: Record<string, unknown>) => ActionResult;

const invalid = (message: string) => new ActionError(400, "VALIDATION_ERROR", message);

function intParam(input: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const raw = input[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const value = typeof raw === "string" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw invalid(`'${name}' must be an integer >= ${min}`);
  }
  return Math.min(value, max);
}

const encodeCursor = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Decodes `prefix:offset[:flag]` cursors; anything else is a 400, as a bad cursor is the caller's mistake. */
function decodeCursor(raw: unknown, prefix: string): { offset: number; flag?: string } | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string") throw invalid("cursor must be a string");
  const parts = Buffer.from(raw, "base64").toString("utf8").split(":");
  const offset = Number(parts[1]);
  if (parts[0] !== prefix || !Number.isInteger(offset) || offset < 0 || parts.length > 3) {
    throw invalid(`invalid cursor '${raw.slice(0, 40)}'`);
  }
  return parts[2] === undefined ? { offset } : { offset, flag: parts[2] };
}

/** `updated_since` as epoch seconds: accepts epoch seconds, epoch ms, or an ISO date. */
function sinceSeconds(raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw === "number" && Number.isFinite(raw)) return raw > 1e11 ? Math.floor(raw / 1000) : raw;
  if (typeof raw === "string") {
    if (/^\d+$/.test(raw)) return sinceSeconds(Number(raw));
    const ms = Date.parse(raw);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  throw invalid("'updated_since' must be epoch seconds, epoch milliseconds or an ISO date");
}

function slackUsersFor(data: SampleDatasets, input: Record<string, unknown>): SlackUser[] {
  const since = sinceSeconds(input.updated_since);
  return since === undefined ? data.slackUsers : data.slackUsers.filter((user) => user.updated >= since);
}

/** Slack users.list: `limit` (default 100, max 1000), `cursor`, optional `updated_since`. */
const slackListUsers: ActionHandler = (data, input) => {
  const limit = intParam(input, "limit", 100, 1, 1000);
  const offset = decodeCursor(input.cursor, "users")?.offset ?? 0;
  const users = slackUsersFor(data, input);
  const members = users.slice(offset, offset + limit);
  const next = offset + limit < users.length ? encodeCursor(`users:${offset + limit}`) : "";
  return { data: { ok: true, members, cache_ts: 1_735_689_600, response_metadata: { next_cursor: next } } };
};

/**
 * Slack conversations.list. Like the real API it can answer an empty page that still has a next cursor: the first
 * page holds at most half the channels and is always followed by an empty page, whatever `limit` is.
 */
const slackListChannels: ActionHandler = (data, input) => {
  const limit = intParam(input, "limit", 100, 1, 1000);
  const cursor = decodeCursor(input.cursor, "channels");
  const channels = data.slackChannels;
  const page = (list: unknown[], next: string) => ({
    data: { ok: true, channels: list, response_metadata: { next_cursor: next } },
  });
  if (cursor?.flag === "gap") return page([], encodeCursor(`channels:${cursor.offset}`));
  if (cursor === undefined) {
    const size = Math.min(limit, Math.ceil(channels.length / 2));
    const more = size < channels.length;
    return page(channels.slice(0, size), more ? encodeCursor(`channels:${size}:gap`) : "");
  }
  const end = cursor.offset + limit;
  return page(channels.slice(cursor.offset, end), end < channels.length ? encodeCursor(`channels:${end}`) : "");
};

/** Slack users paged by the gateway itself: `continuationToken` in, `meta.pagination` out. */
const slackListUsersPaged: ActionHandler = (data, input) => {
  const limit = intParam(input, "limit", 100, 1, 1000);
  const offset = decodeCursor(input.continuationToken, "paged")?.offset ?? 0;
  const users = slackUsersFor(data, input);
  const end = offset + limit;
  const hasMore = end < users.length;
  return {
    data: { ok: true, members: users.slice(offset, end) },
    pagination: { continuationToken: hasMore ? encodeCursor(`paged:${end}`) : null, hasMore },
  };
};

/** GitHub GET /orgs/{org}/repos: `page` (from 1), `per_page` (default 30, max 100); a root array. */
const githubListRepos: ActionHandler = (data, input) => {
  const page = intParam(input, "page", 1, 1, 1_000_000);
  const perPage = intParam(input, "per_page", 30, 1, 100);
  return { data: data.githubRepos.slice((page - 1) * perPage, page * perPage) };
};

const GRAPH_USERS_URL = "https://graph.microsoft.com/v1.0/users";

/** Microsoft Graph GET /users: `$top` (default 100, max 999), `$skiptoken` from the previous `@odata.nextLink`. */
const graphListUsers: ActionHandler = (data, input) => {
  const top = intParam(input, "$top", 100, 1, 999);
  const offset = decodeCursor(input.$skiptoken, "graph")?.offset ?? 0;
  const end = offset + top;
  const body: Record<string, unknown> = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
    value: data.graphUsers.slice(offset, end),
  };
  if (end < data.graphUsers.length) {
    body["@odata.nextLink"] = `${GRAPH_USERS_URL}?$top=${top}&$skiptoken=${encodeURIComponent(
      encodeCursor(`graph:${end}`),
    )}`;
  }
  return { data: body };
};

/** HubSpot CRM schema: one large object (object sync). */
const hubspotGetCrmSchema: ActionHandler = (data) => ({ data: data.crmSchema });

/** integrationSlug → actionSlug → handler. */
export const ACTIONS: Record<string, Record<string, ActionHandler>> = {
  slack: {
    "list-users": slackListUsers,
    "list-channels": slackListChannels,
    "list-users-paged": slackListUsersPaged,
  },
  github: { "list-repos": githubListRepos },
  "microsoft-graph": { "list-users": graphListUsers },
  hubspot: { "get-crm-schema": hubspotGetCrmSchema },
};
