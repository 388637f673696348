import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../../../shared/domain/errors.js";
import type { SourceInput } from "../../../shared/domain/index.js";
import { keys } from "../../../shared/storage/keys.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, T0 } from "./fixtures.js";

const slackUsers = {
  integrationSlug: "slack",
  actionSlug: "users-list",
  referenceData: {
    dataType: "users",
    extractionPath: "$.members[*]",
    nameField: "profile.real_name",
    lookupFields: ["profile.real_name", "name"],
    metadataFields: ["profile.email"],
    deletedField: "deleted",
    pagination: { strategy: "cursor", cursorPath: "$.response_metadata.next_cursor", cursorParam: "cursor" },
    request: { limit: 200, nested: { "": "empty key", list: [] } },
  },
} as unknown as SourceInput;

describe("sources and connections", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let tableName: string;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    ({ repos, tableName } = await newStore(dynamo));
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  describe("DynamoSourceRepository", () => {
    it("creates a source at revision 1 with the config's defaults filled in", async () => {
      const source = await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      expect(source).toMatchObject({
        tenantId: "acme",
        integrationId: "slack",
        dataType: "users",
        revision: 1,
        createdAt: iso(T0),
        updatedAt: iso(T0),
      });
      expect(source.referenceData).toMatchObject({ syncType: "list", idField: "id", fuzzyMatch: true });
      expect(await repos.sources.get("acme", "slack", "users")).toEqual(source);
    });

    it("replaces a source at the next revision and keeps createdAt", async () => {
      await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      const replaced = await repos.sources.put(
        "acme",
        "slack",
        "users",
        { ...slackUsers, actionSlug: "users-list-v2" },
        T0 + 1000,
      );
      expect(replaced).toMatchObject({ revision: 2, createdAt: iso(T0), updatedAt: iso(T0 + 1000) });
      expect((await repos.sources.get("acme", "slack", "users"))?.actionSlug).toBe("users-list-v2");
    });

    it("rejects a malformed config with a ValidationError naming the field, and stores nothing", async () => {
      const broken = {
        ...slackUsers,
        referenceData: { ...slackUsers.referenceData, extractionPath: "$.members[" },
      } as SourceInput;
      const attempt = repos.sources.put("acme", "slack", "users", broken, T0);
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({
        details: { issues: [expect.objectContaining({ field: "referenceData.extractionPath" })] },
      });
      expect(await repos.sources.get("acme", "slack", "users")).toBeUndefined();
    });

    it("rejects a dataType that differs from the config's, and a reserved or malformed one", async () => {
      const attempt = repos.sources.put("acme", "slack", "channels", slackUsers, T0);
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({
        details: { issues: [expect.objectContaining({ field: "referenceData.dataType" })] },
      });
      await expect(repos.sources.put("acme", "slack", "sync", slackUsers, T0)).rejects.toBeInstanceOf(ValidationError);
      await expect(repos.sources.put("acme#x", "slack", "users", slackUsers, T0)).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    /** Another writer bumps the revision right after each of our reads, `times` times. */
    function raceAfterReads(times: number): void {
      let raced = 0;
      let racing = false;
      const name = `race-${Math.random()}`;
      const key = keys.source("acme", "slack", "users");
      dynamo.doc.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName === "GetItemCommand" && raced < times && !racing) {
            raced++;
            racing = true;
            const current = await dynamo.doc.send(new GetCommand({ TableName: tableName, Key: key }));
            const revision = Number(current.Item?.revision ?? 0) + 1;
            await dynamo.doc.send(new PutCommand({ TableName: tableName, Item: { ...current.Item, revision } }));
            racing = false;
          }
          return result;
        },
        { step: "initialize", name },
      );
      cleanups.push(() => dynamo.doc.middlewareStack.remove(name));
    }

    it("retries once when another save wins the race, then succeeds on the fresh revision", async () => {
      await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      raceAfterReads(1);
      const saved = await repos.sources.put("acme", "slack", "users", slackUsers, T0 + 1);
      expect(saved.revision).toBe(3);
    });

    it("gives up with a ConflictError when the revision it read is stale twice", async () => {
      await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      raceAfterReads(2);
      await expect(repos.sources.put("acme", "slack", "users", slackUsers, T0 + 1)).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it("lists the sources of one integration only", async () => {
      await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      const channels = { ...slackUsers, referenceData: { ...slackUsers.referenceData, dataType: "channels" } };
      await repos.sources.put("acme", "slack", "channels", channels as SourceInput, T0);
      await repos.sources.put("acme", "github", "users", slackUsers, T0);
      await repos.connections.enroll("acme", "slack", "default", T0);
      const listed = await repos.sources.list("acme", "slack");
      expect(listed.map((s) => s.dataType).sort()).toEqual(["channels", "users"]);
    });

    it("deletes a source, and raises NotFoundError for a missing one", async () => {
      await repos.sources.put("acme", "slack", "users", slackUsers, T0);
      await repos.sources.delete("acme", "slack", "users");
      expect(await repos.sources.get("acme", "slack", "users")).toBeUndefined();
      await expect(repos.sources.delete("acme", "slack", "users")).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe("DynamoConnectionRepository", () => {
    it("enrolls a connection as active", async () => {
      const enrolled = await repos.connections.enroll("acme", "slack", "conn-1", T0);
      expect(enrolled).toEqual({
        tenantId: "acme",
        integrationId: "slack",
        connectionId: "conn-1",
        status: "active",
        enrolledAt: iso(T0),
        updatedAt: iso(T0),
      });
      expect(await repos.connections.get("acme", "slack", "conn-1")).toEqual(enrolled);
    });

    it("enrolling an active connection again changes nothing", async () => {
      const first = await repos.connections.enroll("acme", "slack", "conn-1", T0);
      expect(await repos.connections.enroll("acme", "slack", "conn-1", T0 + 5000)).toEqual(first);
    });

    it("revokes a connection and re-activates it on enroll", async () => {
      await repos.connections.enroll("acme", "slack", "conn-1", T0);
      const revoked = await repos.connections.revoke("acme", "slack", "conn-1", T0 + 1000);
      expect(revoked).toMatchObject({ status: "revoked", revokedAt: iso(T0 + 1000) });
      const again = await repos.connections.enroll("acme", "slack", "conn-1", T0 + 2000);
      expect(again).toMatchObject({ status: "active", enrolledAt: iso(T0 + 2000) });
      expect(again).not.toHaveProperty("revokedAt");
    });

    it("revoking twice keeps the first revocation time", async () => {
      await repos.connections.enroll("acme", "slack", "conn-1", T0);
      await repos.connections.revoke("acme", "slack", "conn-1", T0 + 1000);
      const twice = await repos.connections.revoke("acme", "slack", "conn-1", T0 + 2000);
      expect(twice.revokedAt).toBe(iso(T0 + 1000));
    });

    it("raises NotFoundError when revoking a connection that was never enrolled", async () => {
      await expect(repos.connections.revoke("acme", "slack", "ghost", T0)).rejects.toBeInstanceOf(NotFoundError);
      expect(await repos.connections.get("acme", "slack", "ghost")).toBeUndefined();
    });

    it("lists the connections of one integration, revoked ones included", async () => {
      await repos.connections.enroll("acme", "slack", "default", T0);
      await repos.connections.enroll("acme", "slack", "conn-1", T0);
      await repos.connections.revoke("acme", "slack", "conn-1", T0);
      await repos.connections.enroll("acme", "github", "default", T0);
      await repos.connections.enroll("globex", "slack", "default", T0);
      const listed = await repos.connections.list("acme", "slack");
      expect(listed.map((c) => `${c.connectionId}:${c.status}`).sort()).toEqual(["conn-1:revoked", "default:active"]);
    });

    it("rejects a connection ID with '#'", async () => {
      await expect(repos.connections.enroll("acme", "slack", "a#b", T0)).rejects.toBeInstanceOf(ValidationError);
    });
  });
});
