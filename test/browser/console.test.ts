/**
 * The admin console in a real headless Chromium (playwright-core driving the build that @sparticuz/chromium ships)
 * against the local stack started here on free ports: every page renders the sample gateway's data, a lookup of an
 * ambiguous name says so and lists both candidates, a triggered sync shows up in the jobs, an item named like markup
 * renders as text, the key stays in sessionStorage and the Authorization header, and the page logs no error.
 * Screenshots of every page go to test-results/console/ (printed below). One browser for the whole file.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import { type Browser, type Page, chromium as playwright } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rootDir } from "../../esbuild.config.mjs";
import { defaultDatasets, SAMPLE_SOURCES, type SlackUser } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";

const XSS_NAME = "<img src=x onerror=alert(1)>";
/** A sample user the jobs test removes upstream before a full sync. */
const GONE_ID = "U05PRIYA";
const GONE = "Priya Natarajan";
const SHOTS = join(rootDir, "test-results", "console");

function xssUser(): SlackUser {
  return {
    id: "U99XSS",
    team_id: "T0SAMPLE01",
    name: "xss",
    real_name: XSS_NAME,
    deleted: false,
    is_bot: false,
    is_admin: false,
    updated: 1_735_689_600,
    profile: { real_name: XSS_NAME, display_name: XSS_NAME, title: "<script>alert(2)</script>" },
  };
}

describe("admin console in Chromium", () => {
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  let key: string;
  /** The sample gateway's Slack-like integration (picked from the console's list where the server lists them). */
  let SLACK: string;
  const problems: string[] = [];
  const requests: { url: string; authorization: string | undefined }[] = [];

  beforeAll(async () => {
    const datasets = defaultDatasets();
    datasets.slackUsers.push(xssUser());
    [stack, browser] = await Promise.all([
      startLocalStack({
        port: 0,
        dynamoPort: 0,
        sqsPort: 0,
        sampleGatewayPort: 0,
        dataDir: null,
        scheduleSeconds: 3600,
        workerTimeoutSeconds: 60,
        shutdownGraceMs: 5_000,
        firstSyncWaitMs: 60_000,
        logLevel: "warn",
        log: createLogger({}, "silent"),
        sampleGateway: { datasets },
      }),
      playwright.launch({ executablePath: await chromium.executablePath(), args: chromium.args, headless: true }),
    ]);
    key = stack.apiKey ?? "";
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on("request", (request) =>
      requests.push({ url: request.url(), authorization: request.headers().authorization }),
    );
    mkdirSync(SHOTS, { recursive: true });
    console.log(`console screenshots: ${SHOTS}`);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const open = async (pageId: string) => {
    await page.getByRole("link", { name: pageId, exact: true }).click();
    await expect.poll(() => page.locator("main h2").textContent()).toBe(pageId);
  };
  const serverHas = async (method: string, path: string) => {
    const document = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    return method.toLowerCase() in (document.paths[`/api/v1${path}`] ?? {});
  };

  it("serves the page with a strict Content-Security-Policy and no inline script", async () => {
    const response = await fetch(stack.consoleUrl);
    const html = await response.text();
    const csp = response.headers.get("content-security-policy") ?? "";

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(html).toMatch(/<script type="module" src="console\/app\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(stack.banner()).toContain(stack.consoleUrl);
    expect((await fetch(stack.consoleUrl, { method: "POST" })).status).toBe(405);
    const missing = await fetch(`${stack.consoleUrl}/missing.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-security-policy")).toBe(csp);
  });

  it("paints the key form at once, and keeps the typed key in sessionStorage only", async () => {
    await page.goto(stack.consoleUrl);
    await page.getByLabel("API key").waitFor();
    const rendered = await page.evaluate<number>("performance.now()");
    console.log(`console rendered ${Math.round(rendered)} ms after navigation start (no API call needed)`);
    await page.getByLabel("API key").fill(key);
    await page.keyboard.press("Enter");

    await expect.poll(() => page.getByRole("navigation", { name: "Pages" }).isVisible()).toBe(true);
    const stored = await page.evaluate<{ session: string[]; local: number; cookies: string }>(
      "({ session: Object.values(sessionStorage), local: localStorage.length, cookies: document.cookie })",
    );
    expect(stored.session).toContain(key);
    expect(stored.local).toBe(0);
    expect(stored.cookies).toBe("");
  });

  it("overview: partitions by status of an integration picked or typed; absent endpoints say so plainly", async () => {
    if (await serverHas("GET", "/integrations")) {
      const option = page.locator('#integration-options option[label="slack"]');
      await expect.poll(() => option.count()).toBe(1);
      SLACK = (await option.getAttribute("value")) ?? "";
    } else {
      SLACK = SAMPLE_SOURCES.find((source) => source.dataType === "users")?.integrationId ?? "slack";
    }
    await page.getByLabel("Integration").fill(SLACK);
    await page.getByLabel("Integration").press("Enter");
    await open("Overview");

    const summary = page.locator(`[data-integration="${SLACK}"]`);
    await expect.poll(() => summary.locator("td").first().textContent()).toMatch(/^[1-9]\d*$/);
    expect(await summary.locator('td[data-status="idle"]').textContent()).toMatch(/^[1-9]\d*$/);
    for (const [what, path] of [
      ["Gateway credentials", "/gateway/credentials"],
      ["Discovery", "/discovery"],
    ] as const) {
      const section = page.locator("section", { has: page.getByRole("heading", { name: what, exact: true }) });
      if (await serverHas("GET", path)) {
        // The demo tenant's Waygate key is stored and its first discovery has run (with a problem to report).
        await expect.poll(() => section.locator(".badge").first().textContent()).toMatch(/^(valid|completed)$/);
      } else {
        await expect.poll(() => section.getByTestId("not-available").textContent()).toContain("not available");
      }
    }
    if (await serverHas("GET", "/discovery")) {
      const problems = page.locator("table", { has: page.getByText("Discovery problems") }).locator("tbody tr");
      await expect.poll(() => problems.count()).toBeGreaterThan(0);
      expect(await problems.first().locator("td").nth(3).textContent()).toMatch(/^[A-Z_]+$/);
    }
    await shot("overview");
  });

  it("sources: each config as JSON with its origin", async () => {
    await open("Sources");

    const users = page.locator('[data-data-type="users"]');
    await expect.poll(() => users.locator("pre").textContent()).toContain('"extractionPath"');
    expect(await users.locator(".badge").first().textContent()).toMatch(/^(manual|discovered)$/);
    await shot("sources");
  });

  it("connections: status per connection, and pause/resume where the server has it", async () => {
    await open("Connections");

    const rows = page.locator("tr[data-connection]");
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    const row = rows.filter({ has: page.locator(".badge", { hasText: /^active$/ }) }).first();
    const id = await row.getAttribute("data-connection");
    expect(id).not.toBeNull();
    if (await serverHas("PATCH", "/integrations/{integrationId}/connections/{connectionId}")) {
      const same = page.locator(`tr[data-connection="${id}"]`);
      await same.getByRole("button", { name: `Pause connection ${id}` }).click();
      await expect.poll(() => same.locator(".badge").textContent()).toBe("paused");
      await same.getByRole("button", { name: `Resume connection ${id}` }).click();
      await expect.poll(() => same.locator(".badge").textContent()).toBe("active");
      await same.getByLabel(`TTL override of ${id} (seconds)`).fill("7200");
      const [saved] = await Promise.all([
        page.waitForResponse((response) => response.request().method() === "PATCH"),
        same.getByRole("button", { name: "Save TTL" }).click(),
      ]);
      expect(saved.status()).toBe(200);
      await open("Sources");
      await open("Connections");
      await expect.poll(() => same.getByLabel(`TTL override of ${id} (seconds)`).inputValue()).toBe("7200");
    } else {
      expect(await page.getByTestId("not-available").textContent()).toContain("not available on this server");
    }
    await shot("connections");
  });

  it("data: items by type with search, status filter and paging; markup in a name stays text", async () => {
    await open("Data");
    await page.getByLabel("Data type").selectOption("users");

    const names = page.locator("th.item-name");
    await expect.poll(() => names.allTextContents()).toContain(XSS_NAME);
    expect(await names.allTextContents()).toContain("Sarah Chen");
    expect(await page.locator('img[src="x"], main script').count()).toBe(0);
    await shot("data");

    await page.getByLabel("Per page").selectOption("10");
    await expect.poll(() => names.count()).toBe(10);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.locator("caption").first().textContent()).toBe("users: page 2");
    expect(await names.count()).toBeGreaterThan(0);

    await page.getByLabel("Search").fill("becker");
    await page.getByLabel("Search").press("Enter");
    // One row per connection that has the user.
    await expect.poll(async () => [...new Set(await names.allTextContents())]).toEqual(["Tom Becker"]);
  });

  it("lookup: an ambiguous name lists both candidates with score, match type and field, and says ambiguous", async () => {
    await open("Lookup");
    await page.getByLabel("Data type").selectOption("users");
    await page.getByLabel("Name to look up").fill("sarah");
    await page.getByLabel("Name to look up").press("Enter");

    const ambiguity = page.getByTestId("ambiguity");
    await expect.poll(() => ambiguity.textContent()).toMatch(/^Ambiguous: /);
    const rows = page.locator(".lookup-result tbody tr");
    const names = await rows.locator("th").allTextContents();
    expect(names).toEqual(expect.arrayContaining(["Sarah Chen", "Sarah Connor"]));
    const first = await rows.first().locator("td").allTextContents();
    expect(first[1]).toMatch(/^\d\.\d{3}$/);
    expect(first[2]).toMatch(/^(exact|prefix|fuzzy)$/);
    expect(first[3]).not.toBe("");
    await shot("lookup");
    // The one README shows (docs/console.png is a copy of it).
    await page.screenshot({ path: join(SHOTS, "readme.png"), clip: { x: 0, y: 0, width: 1280, height: 600 } });

    await page.getByLabel("Name to look up").fill("derek");
    await page.getByLabel("Name to look up").press("Enter");
    await expect.poll(() => ambiguity.textContent()).toMatch(/^Not ambiguous: .*Derek Osgood/);
  });

  it("jobs: history with counts, and a triggered sync appears in it", async () => {
    await open("Jobs");
    const jobs = page.locator("tr[data-job]");
    await expect.poll(() => jobs.count()).toBeGreaterThan(0);
    const before = await jobs.evaluateAll((rows) => rows.map((row) => row.getAttribute("data-job")));

    // Gone upstream: the full sync below marks her inactive (the data test's status filter finds her there).
    const users = stack.sampleGateway?.data.slackUsers ?? [];
    users.splice(
      users.findIndex((user) => user.id === GONE_ID),
      1,
    );
    await page.getByLabel("Sync data type").selectOption("users");
    await page.getByLabel("Mode").selectOption("full");
    await page.getByRole("button", { name: "Trigger sync" }).click();

    const triggered = page.locator(".trigger tbody tr");
    await expect.poll(() => triggered.count()).toBeGreaterThan(0);
    expect(new Set(await triggered.locator("td:first-child").allTextContents())).toEqual(new Set(["users"]));
    const jobIds = (await triggered.locator("code").allTextContents()).filter((id) => /^[0-9A-Z]{26}$/.test(id));
    const jobId = jobIds[0] ?? "";
    expect(before).not.toContain(jobId);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 60_000 }).toBe("completed");
    const cells = await row.locator("td").allTextContents();
    expect(cells[3]).toBe("manual");
    expect(Number(cells[7])).toBeGreaterThan(0);
    await shot("jobs");
  });

  it("data: the status filter shows what the last full sync deactivated, and only that", async () => {
    await open("Data");
    await page.getByLabel("Data type").selectOption("users");
    const names = page.locator("th.item-name");

    await page.getByLabel("Status").selectOption("inactive");
    await expect.poll(async () => [...new Set(await names.allTextContents())], { timeout: 30_000 }).toEqual([GONE]);
    expect(new Set(await page.locator("tbody .badge").allTextContents())).toEqual(new Set(["inactive"]));
    await page.getByLabel("Status").selectOption("active");
    await expect.poll(() => names.allTextContents()).toContain("Derek Osgood");
    expect(await names.allTextContents()).not.toContain(GONE);
  });

  it("changes: the feed newest first where the server has it, else says it is not available", async () => {
    await open("Changes");

    if (await serverHas("GET", "/integrations/{integrationId}/reference-data/changes")) {
      const rows = page.locator("main tbody tr");
      await expect.poll(() => rows.count()).toBeGreaterThan(0);
      // Newest first: the deactivation by the last full sync comes before the first sync's creations.
      expect(await rows.first().locator("th").textContent()).toBe(GONE);
      expect(await rows.first().locator(".badge").textContent()).toBe("deactivated");
    } else {
      await expect.poll(() => page.getByTestId("not-available").textContent()).toContain("not available");
    }
    await shot("changes");
  });

  it("works from the keyboard alone", async () => {
    await page.goto(`${stack.consoleUrl}#/overview?integration=${encodeURIComponent(SLACK)}`);
    await page.reload();
    await expect.poll(() => page.getByRole("navigation", { name: "Pages" }).isVisible()).toBe(true);
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement?.textContent")).toBe("Skip to content");

    const lookup = page.getByRole("link", { name: "Lookup", exact: true });
    await lookup.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("main h2").textContent()).toBe("Lookup");
    await expect.poll(() => page.getByLabel("Data type").inputValue()).not.toBe("");
    await page.getByLabel("Data type").selectOption("users");
    await page.getByLabel("Name to look up").focus();
    await page.keyboard.type("derek");
    await page.keyboard.press("Enter");

    await expect.poll(() => page.getByTestId("ambiguity").textContent()).toMatch(/Derek Osgood/);
  });

  it("fits a phone's width without sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const id of ["overview", "data", "jobs"]) {
      await page.goto(`${stack.consoleUrl}#/${id}?integration=${encodeURIComponent(SLACK)}`);
      await expect.poll(() => page.getByText("Loading").count()).toBe(0);
      const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow, id).toBeLessThanOrEqual(0);
    }
    await shot("phone-jobs");
  });

  it("sent the key only in Authorization headers to its own origin, and logged no error", () => {
    const origin = new URL(stack.consoleUrl).origin;
    expect(requests.length).toBeGreaterThan(10);
    for (const request of requests) {
      expect(new URL(request.url).origin, request.url).toBe(origin);
      expect(request.url).not.toContain(key);
      const api = new URL(request.url).pathname.startsWith("/api/v1/") && !request.url.endsWith("/openapi.json");
      expect(request.authorization, request.url).toBe(api ? `Bearer ${key}` : undefined);
    }
    expect(problems).toEqual([]);
  });
});
