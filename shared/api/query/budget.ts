/**
 * The response budget of the query routes. Lambda returns at most 6 MB and API Gateway 10 MB; a list page stops
 * adding items once its data passes this many bytes (one item is at most 300 KB, so a page stays well under 6 MB),
 * and an object larger than it is served in parts (DESIGN.md "quotas").
 */
export const RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024;
