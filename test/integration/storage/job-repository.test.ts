import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import { ConflictError, JOB_ERROR, NotFoundError, ValidationError } from "../../../shared/domain/errors.js";
import { JOB_RETENTION_SECONDS, type Job } from "../../../shared/domain/index.js";
import { ulid } from "../../../shared/domain/ulid.js";
import type { JobRepository, NewJob } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef, T0 } from "./fixtures.js";

const ref = partitionRef();

function newJob(jobId: string, overrides: Partial<NewJob> = {}): NewJob {
  return { ref, jobId, trigger: "schedule", mode: "full", actionSlug: "users-list", now: T0, ...overrides };
}

describe("DynamoJobRepository", () => {
  let dynamo: TestDynamo;
  let jobs: JobRepository;

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    jobs = (await newStore(dynamo)).repos.jobs;
  });

  describe("create and get", () => {
    it("creates a pending job with zero counts that expires 90 days after creation", async () => {
      const job = await jobs.create(newJob("JOB1"));
      expect(job).toMatchObject({
        ...ref,
        jobId: "JOB1",
        status: "pending",
        trigger: "schedule",
        mode: "full",
        actionSlug: "users-list",
        createdAt: iso(T0),
        itemsFound: 0,
        itemsCreated: 0,
        warnings: [],
        expiresAt: T0 / 1000 + JOB_RETENTION_SECONDS,
      });
      expect(await jobs.get("acme", "slack", "JOB1")).toEqual(job);
    });

    it("refuses to create the same job twice", async () => {
      await jobs.create(newJob("JOB1"));
      await expect(jobs.create(newJob("JOB1", { trigger: "manual" }))).rejects.toBeInstanceOf(ConflictError);
      expect((await jobs.get("acme", "slack", "JOB1"))?.trigger).toBe("schedule");
    });

    it("rejects a job ID with '#' and a partition ID with '#'", async () => {
      await expect(jobs.create(newJob("JOB#1"))).rejects.toBeInstanceOf(ValidationError);
      await expect(jobs.create(newJob("J2", { ref: partitionRef({ dataType: "a#b" }) }))).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it("returns undefined for a missing job", async () => {
      expect(await jobs.get("acme", "slack", "nope")).toBeUndefined();
    });
  });

  describe("failIfOpen", () => {
    it("fails a pending or syncing job with the error, and leaves a finished or missing one alone", async () => {
      await jobs.create(newJob("JOB1"));
      await jobs.create(newJob("JOB2"));
      await jobs.update("acme", "slack", "JOB2", { status: "completed", completedAt: iso(T0) });
      const error = { code: JOB_ERROR.cancelled, message: "Cancelled: paused" };

      const failed = await jobs.failIfOpen("acme", "slack", "JOB1", error, T0 + 1_000);
      const finished = await jobs.failIfOpen("acme", "slack", "JOB2", error, T0 + 1_000);
      const missing = await jobs.failIfOpen("acme", "slack", "NOPE", error, T0 + 1_000);

      expect(failed).toMatchObject({ status: "failed", error, completedAt: iso(T0 + 1_000) });
      expect(finished).toBeUndefined();
      expect(missing).toBeUndefined();
      expect(await jobs.get("acme", "slack", "JOB2")).toMatchObject({ status: "completed" });
    });
  });

  describe("update", () => {
    it("applies a patch and returns the new job", async () => {
      await jobs.create(newJob("JOB1"));
      const updated = await jobs.update("acme", "slack", "JOB1", {
        status: "completed",
        completedAt: iso(T0 + 1000),
        itemsFound: 10,
        itemsCreated: 7,
        itemsUpdated: 2,
        error: undefined,
        warnings: ["suspicious drop"],
      });
      expect(updated).toMatchObject({ status: "completed", itemsFound: 10, itemsCreated: 7, itemsUpdated: 2 });
      expect(updated.warnings).toEqual(["suspicious drop"]);
      expect(await jobs.get("acme", "slack", "JOB1")).toEqual(updated);
    });

    it("applies a patch only when the status is one of the expected ones", async () => {
      await jobs.create(newJob("JOB1"));
      await jobs.update("acme", "slack", "JOB1", { status: "syncing" }, { expectStatus: ["pending", "syncing"] });
      await jobs.update("acme", "slack", "JOB1", { status: "completed" }, { expectStatus: ["syncing"] });
      const attempt = jobs.update(
        "acme",
        "slack",
        "JOB1",
        { status: "failed" },
        { expectStatus: ["pending", "syncing"] },
      );
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      await expect(attempt).rejects.toMatchObject({ details: { status: "completed" } });
      expect((await jobs.get("acme", "slack", "JOB1"))?.status).toBe("completed");
    });

    it("raises NotFoundError when the job does not exist, and never creates it", async () => {
      await expect(jobs.update("acme", "slack", "ghost", { status: "failed" })).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        jobs.update("acme", "slack", "ghost", { status: "failed" }, { expectStatus: ["pending"] }),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await jobs.get("acme", "slack", "ghost")).toBeUndefined();
    });

    it("sets and removes the checkpoint", async () => {
      await jobs.create(newJob("JOB1"));
      const checkpoint = { page: 4, state: { cursor: "abc" }, chunks: 2, savedAt: iso(T0) };
      expect((await jobs.update("acme", "slack", "JOB1", { checkpoint })).checkpoint).toEqual(checkpoint);
      const cleared = await jobs.update("acme", "slack", "JOB1", { status: "completed" }, { removeCheckpoint: true });
      expect(cleared).not.toHaveProperty("checkpoint");
      await expect(
        jobs.update("acme", "slack", "JOB1", { checkpoint }, { removeCheckpoint: true }),
      ).rejects.toBeInstanceOf(ValidationError);
    });

    it("an empty patch still checks the expected status", async () => {
      await jobs.create(newJob("JOB1"));
      expect((await jobs.update("acme", "slack", "JOB1", {}, { expectStatus: ["pending"] })).status).toBe("pending");
      await expect(jobs.update("acme", "slack", "JOB1", {}, { expectStatus: ["syncing"] })).rejects.toBeInstanceOf(
        ConflictError,
      );
    });
  });

  describe("list", () => {
    async function seed(count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let n = 0; n < count; n++) {
        const jobId = ulid(T0 + n * 1000);
        ids.push(jobId);
        await jobs.create(
          newJob(jobId, {
            ref: partitionRef({
              connectionId: n % 2 === 0 ? "default" : "conn-1",
              dataType: n % 3 ? "users" : "channels",
            }),
            now: T0 + n * 1000,
          }),
        );
        if (n % 4 === 0) await jobs.update("acme", "slack", jobId, { status: "failed" });
      }
      return ids;
    }

    it("lists newest first across pages, skipping checkpoint rows", async () => {
      const ids = await seed(12);
      const newest = ids.at(-1) as string;
      await jobs.saveCheckpoint("acme", "slack", newest, { page: 1 });
      const seen: string[] = [];
      let startKey: Record<string, unknown> | undefined;
      let pages = 0;
      do {
        const page = await jobs.list("acme", "slack", { limit: 5, startKey });
        expect(page.items.length).toBeLessThanOrEqual(5);
        seen.push(...page.items.map((j) => j.jobId));
        startKey = page.nextKey;
        pages++;
      } while (startKey);
      expect(seen).toEqual([...ids].reverse());
      expect(pages).toBe(3);
    });

    it("filters by connection, dataType and status while filling each page", async () => {
      const ids = await seed(24);
      const expected = ids.filter((_, n) => n % 2 === 0 && n % 3 !== 0 && n % 4 === 0).reverse();
      const collected: Job[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await jobs.list("acme", "slack", {
          connectionId: "default",
          dataType: "users",
          status: "failed",
          limit: 2,
          startKey,
        });
        collected.push(...page.items);
        startKey = page.nextKey;
      } while (startKey);
      expect(collected.map((j) => j.jobId)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(2);
    });

    it("keeps integrations and tenants apart", async () => {
      await jobs.create(newJob("JOB1"));
      await jobs.create(newJob("JOB2", { ref: partitionRef({ integrationId: "github" }) }));
      await jobs.create(newJob("JOB3", { ref: partitionRef({ tenantId: "globex" }) }));
      const page = await jobs.list("acme", "slack", { limit: 10 });
      expect(page.items.map((j) => j.jobId)).toEqual(["JOB1"]);
    });

    it("rejects a start key from another integration and a bad filter", async () => {
      await jobs.create(newJob("JOB1", { ref: partitionRef({ integrationId: "github" }) }));
      await jobs.create(newJob("JOB2", { ref: partitionRef({ integrationId: "github" }) }));
      const foreign = await jobs.list("acme", "github", { limit: 1 });
      expect(foreign.nextKey).toBeDefined();
      await expect(jobs.list("acme", "slack", { limit: 1, startKey: foreign.nextKey })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(
        jobs.list("acme", "slack", { limit: 1, status: "done" as unknown as "failed" }),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  });
});
