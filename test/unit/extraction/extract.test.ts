import { JSONPath } from "jsonpath-plus";
import { describe, expect, it } from "vitest";
import { itemContentSchema } from "../../../shared/domain/entities.js";
import {
  lookupFieldsOf,
  type ReferenceDataConfigInput,
  referenceDataConfigSchema,
} from "../../../shared/domain/source-config.js";
import {
  canonicalJson,
  contentHash,
  type ExtractedItem,
  extractItems,
  extractObject,
  isSecretPath,
  MAX_LISTED_FAILURES,
} from "../../../shared/extraction/extract.js";

const config = (input: Partial<ReferenceDataConfigInput> = {}) =>
  referenceDataConfigSchema.parse({ dataType: "users", extractionPath: "$.members[*]", ...input });

const slackUsers = {
  ok: true,
  members: [
    {
      id: "U01",
      name: "derek",
      deleted: false,
      profile: { real_name: "Derek Osgood", email: "derek@example.com", api_token_hint: "xoxp-…" },
    },
    {
      id: "U02",
      name: "sarah.chen",
      deleted: true,
      profile: { real_name: "  Sarah Chen  ", email: "sarah@example.com" },
    },
  ],
  response_metadata: { next_cursor: "" },
};

describe("extraction path", () => {
  it("yields the elements of $.members[*]", () => {
    const result = extractItems(config(), slackUsers);
    expect(result.items.map((i) => i.externalId)).toEqual(["U01", "U02"]);
    expect(result.failed).toBe(0);
    expect(result.matched).toBe(2);
  });

  it("treats $.members (one array) the same as $.members[*]", () => {
    const star = extractItems(config(), slackUsers);
    const bare = extractItems(config({ extractionPath: "$.members" }), slackUsers);
    expect(bare.items).toEqual(star.items);
  });

  it("yields the elements of a root array with $", () => {
    const repos = [
      { id: 101, name: "frontend" },
      { id: 102, name: "backend" },
    ];
    const result = extractItems(config({ extractionPath: "$" }), repos);
    expect(result.items.map((i) => [i.externalId, i.name])).toEqual([
      ["101", "frontend"],
      ["102", "backend"],
    ]);
  });

  it("yields nothing when the path matches nothing", () => {
    for (const data of [{ users: [] }, null, "text", 42, undefined, { members: null }]) {
      const result = extractItems(config(), data);
      expect(result).toMatchObject({ items: [], failed: 0, matched: 0 });
    }
  });

  it("reads bracket member names that jsonpath-plus would misread", () => {
    const data = { "@odata.context": "x", "@items": [{ id: "a" }], value: [{ id: "v" }] };
    expect(extractItems(config({ extractionPath: "$['@items'][*]" }), data).items.map((i) => i.externalId)).toEqual([
      "a",
    ]);
    expect(extractItems(config({ extractionPath: "$.value" }), data).items.map((i) => i.externalId)).toEqual(["v"]);
  });

  it("selects the same records as jsonpath-plus (eval: false) on ordinary paths", () => {
    const data = {
      a: { list: [{ id: 1 }, { id: 2 }], map: { x: { id: "x" }, y: { id: "y" } } },
      groups: [{ members: [{ id: "g1" }] }, { members: [{ id: "g2" }, { id: "g3" }] }],
    };
    for (const path of ["$.a.list[*]", "$.a.list", "$.a.map.*", "$.a.list[1]", "$.groups[*].members[*]", "$.a.nope"]) {
      const ours = extractItems(config({ extractionPath: path }), data).items.map((i) => i.externalId);
      let theirs: unknown[] = JSONPath({ path, json: data, eval: false, wrap: true });
      if (theirs.length === 1 && Array.isArray(theirs[0])) theirs = theirs[0];
      expect(ours, path).toEqual(theirs.map((r) => String((r as { id: unknown }).id)));
    }
  });
});

describe("ids and names", () => {
  it("turns numeric ids into strings", () => {
    const result = extractItems(config({ extractionPath: "$" }), [{ id: 123456789, name: "n" }, { id: 0 }]);
    expect(result.items.map((i) => i.externalId)).toEqual(["123456789", "0"]);
  });

  it("falls back to the id when the name is missing or blank", () => {
    const result = extractItems(config({ extractionPath: "$", nameField: "profile.real_name" }), [
      { id: "U1" },
      { id: "U2", profile: { real_name: "   " } },
      { id: "U3", profile: {} },
    ]);
    expect(result.items.map((i) => i.name)).toEqual(["U1", "U2", "U3"]);
  });

  it("reads nested dot paths for id, name, lookup, metadata and deleted", () => {
    const result = extractItems(
      config({
        extractionPath: "$.data.users",
        idField: "ids.primary",
        nameField: "profile.real_name",
        lookupFields: ["profile.real_name", "handles.0"],
        metadataFields: ["profile.email", "org.team.name"],
        deletedField: "state.deleted",
      }),
      {
        data: {
          users: [
            {
              ids: { primary: "P1" },
              profile: { real_name: "Sarah Connor", email: "sc@example.com" },
              handles: ["@sconnor", "@sarah"],
              org: { team: { name: "Resistance" } },
              state: { deleted: true },
            },
          ],
        },
      },
    );
    expect(result.items).toEqual([
      expect.objectContaining({
        externalId: "P1",
        name: "Sarah Connor",
        lookup: { "profile.real_name": "Sarah Connor", "handles.0": "@sconnor" },
        metadata: { "profile.email": "sc@example.com", "org.team.name": "Resistance" },
        deleted: true,
      }),
    ]);
  });

  it("trims the name and lookup values", () => {
    const result = extractItems(
      config({ nameField: "profile.real_name", lookupFields: ["profile.real_name", "name"] }),
      slackUsers,
    );
    const sarah = result.items.find((i) => i.externalId === "U02");
    expect(sarah?.name).toBe("Sarah Chen");
    expect(sarah?.lookup).toEqual({ "profile.real_name": "Sarah Chen", name: "sarah.chen" });
  });

  it("uses the name field for lookup when no lookup fields are configured", () => {
    const [item] = extractItems(config({ nameField: "profile.real_name" }), slackUsers).items;
    expect(item?.lookup).toEqual({ "profile.real_name": "Derek Osgood" });
  });

  it("keeps numeric lookup values as strings and skips non-scalar ones", () => {
    const [item] = extractItems(config({ extractionPath: "$", lookupFields: ["name", "number", "tags", "flag"] }), [
      { id: "1", name: "general", number: 42, tags: ["a"], flag: true },
    ]).items;
    expect(item?.lookup).toEqual({ name: "general", number: "42" });
  });
});

describe("failed items", () => {
  it("counts null items and items without an id as failed, with reasons, and keeps the rest", () => {
    const result = extractItems(config({ extractionPath: "$" }), [
      null,
      { id: "ok-1" },
      { name: "no id" },
      { id: "" },
      { id: true },
      "text",
      [1],
      { id: "ok-2" },
    ]);
    expect(result.items.map((i) => i.externalId)).toEqual(["ok-1", "ok-2"]);
    expect(result.failed).toBe(6);
    expect(result.matched).toBe(8);
    expect(result.failures).toEqual([
      { index: 0, reason: "item is null" },
      { index: 2, reason: "no usable id at 'id'" },
      { index: 3, reason: "no usable id at 'id'" },
      { index: 4, reason: "no usable id at 'id'" },
      { index: 5, reason: "item is a string, not an object" },
      { index: 6, reason: "item is an array, not an object" },
    ]);
  });

  it("fails ids longer than 512 characters", () => {
    const result = extractItems(config({ extractionPath: "$" }), [{ id: "x".repeat(513) }, { id: "y".repeat(512) }]);
    expect(result.items).toHaveLength(1);
    expect(result.failed).toBe(1);
    expect(result.failures[0]?.reason).toContain("512");
  });

  it("lists at most 20 failures but counts them all", () => {
    const result = extractItems(
      config({ extractionPath: "$" }),
      Array.from({ length: 50 }, () => null),
    );
    expect(result.failed).toBe(50);
    expect(result.failures).toHaveLength(MAX_LISTED_FAILURES);
  });

  it("fails an item too large to store instead of failing its page", () => {
    const result = extractItems(config({ extractionPath: "$", metadataFields: ["blob"] }), [
      { id: "big", blob: "x".repeat(400_000) },
      { id: "small", blob: "x" },
    ]);
    expect(result.items.map((i) => i.externalId)).toEqual(["small"]);
    expect(result.failures[0]?.reason).toContain("larger than");
  });
});

describe("duplicates", () => {
  it("keeps the last record of a duplicated id and does not count it as failed", () => {
    const result = extractItems(config({ extractionPath: "$" }), [
      { id: "a", name: "first" },
      { id: "b", name: "b" },
      { id: "a", name: "second" },
    ]);
    expect(result.items.map((i) => [i.externalId, i.name])).toEqual([
      ["b", "b"],
      ["a", "second"],
    ]);
    expect(result.failed).toBe(0);
    expect(result.duplicates).toBe(1);
    expect(result.matched).toBe(3);
  });

  it("treats a numeric id and its string form as the same id", () => {
    const result = extractItems(config({ extractionPath: "$" }), [{ id: 7 }, { id: "7", name: "later" }]);
    expect(result.items).toHaveLength(1);
    expect(result.items[0]?.name).toBe("later");
  });
});

describe("metadata", () => {
  it("keys metadata by the configured path and leaves absent fields out", () => {
    const [derek, sarah] = extractItems(
      config({ metadataFields: ["profile.email", "profile.title", "deleted", "is_bot"] }),
      slackUsers,
    ).items;
    expect(derek?.metadata).toEqual({ "profile.email": "derek@example.com", deleted: false });
    expect(sarah?.metadata).toEqual({ "profile.email": "sarah@example.com", deleted: true });
  });

  it("keeps null metadata values (present but empty)", () => {
    const [item] = extractItems(config({ extractionPath: "$", metadataFields: ["title"] }), [
      { id: "1", title: null },
    ]).items;
    expect(item?.metadata).toEqual({ title: null });
  });

  it("drops secret-like metadata paths whatever the config says", () => {
    const [item] = extractItems(
      config({ metadataFields: ["profile.email", "profile.api_token_hint", "accessToken", "monkey"] }),
      {
        members: [
          {
            id: "1",
            accessToken: "secret-value",
            monkey: "banana",
            profile: { email: "e@x", api_token_hint: "xoxp" },
          },
        ],
      },
    ).items;
    expect(item?.metadata).toEqual({ "profile.email": "e@x", monkey: "banana" });
  });

  it("drops secret-like keys nested inside a kept object", () => {
    const [item] = extractItems(config({ metadataFields: ["profile"] }), slackUsers).items;
    expect(item?.metadata).toEqual({ profile: { real_name: "Derek Osgood", email: "derek@example.com" } });
  });
});

describe("deleted", () => {
  it("is true only for `true` or a deletedValues entry, never for strings like 'false', false when none is configured", () => {
    const data = [
      { id: "a", deleted: true },
      { id: "b", deleted: false },
      { id: "c" },
      { id: "d", deleted: "yes" },
      { id: "e", deleted: 0 },
      { id: "f", deleted: "false" },
      { id: "g", deleted: "0" },
      { id: "h", deleted: "true" },
    ];
    const withField = extractItems(config({ extractionPath: "$", deletedField: "deleted" }), data);
    expect(withField.items.map((i) => i.deleted)).toEqual([true, false, false, false, false, false, false, false]);
    const withValues = extractItems(
      config({ extractionPath: "$", deletedField: "deleted", deletedValues: ["yes", 0] }),
      data,
    );
    expect(withValues.items.map((i) => i.deleted)).toEqual([true, false, false, true, true, false, false, false]);
    const without = extractItems(config({ extractionPath: "$" }), data);
    expect(without.items.every((i) => i.deleted === false)).toBe(true);
  });
});

describe("isSecretPath", () => {
  it.each([
    "token",
    "api_token_hint",
    "accessToken",
    "refresh-token",
    "profile.password",
    "client_secret",
    "clientSecret",
    "apiKey",
    "api_key",
    "APIKey",
    "x-api-key",
    "apikey",
    "credentials.user",
    "privateKey",
    "private_key",
    "ssh.private-key",
    "sessionId",
    "session",
    "cookie",
    "Set-Cookie",
    "auth.bearerToken",
    "oauth2Token",
    "PASSWORD",
  ])("drops %s", (path) => {
    expect(isSecretPath(path)).toBe(true);
  });

  it.each([
    "monkey",
    "profile.email",
    "name",
    "keyboard",
    "tokenizer",
    "secretary",
    "key",
    "private",
    "is_private",
    "sessional",
    "profile.real_name",
    "api_version",
  ])("keeps %s", (path) => {
    expect(isSecretPath(path)).toBe(false);
  });
});

describe("contentHash", () => {
  const base: Omit<ExtractedItem, "contentHash"> = {
    externalId: "U1",
    name: "Derek",
    lookup: { name: "derek", "profile.email": "d@x" },
    metadata: { "profile.email": "d@x", nested: { a: 1, b: [1, 2] } },
    deleted: false,
  };

  it("is 16 characters and stable across key order", () => {
    const reordered: Omit<ExtractedItem, "contentHash"> = {
      deleted: false,
      metadata: { nested: { b: [1, 2], a: 1 }, "profile.email": "d@x" },
      lookup: { "profile.email": "d@x", name: "derek" },
      name: "Derek",
      externalId: "U1",
    };
    expect(contentHash(base)).toHaveLength(16);
    expect(contentHash(reordered)).toBe(contentHash(base));
  });

  it.each([
    ["name", { name: "Derek O." }],
    ["externalId", { externalId: "U2" }],
    ["lookup value", { lookup: { name: "derek2", "profile.email": "d@x" } }],
    ["lookup key", { lookup: { name: "derek" } }],
    ["metadata value", { metadata: { "profile.email": "d@y", nested: { a: 1, b: [1, 2] } } }],
    ["nested metadata", { metadata: { "profile.email": "d@x", nested: { a: 1, b: [2, 1] } } }],
    ["deleted", { deleted: true }],
  ])("changes when the %s changes", (_label, change) => {
    expect(contentHash({ ...base, ...change })).not.toBe(contentHash(base));
  });

  it.each(Object.keys(itemContentSchema.shape))("covers the declared content field %s", (field) => {
    const changed = { ...base, [field]: { changed: field } } as Omit<ExtractedItem, "contentHash">;
    expect(contentHash(changed)).not.toBe(contentHash(base));
  });

  it("ignores what is not declared content, so an undeclared key cannot change a stored hash", () => {
    const extra = { ...base, note: "not content" } as Omit<ExtractedItem, "contentHash">;
    expect(contentHash(extra)).toBe(contentHash(base));
  });

  it("is what extractItems stores on the item", () => {
    const [item] = extractItems(config({ metadataFields: ["profile.email"] }), slackUsers).items;
    if (!item) throw new Error("no item");
    const { contentHash: stored, ...rest } = item;
    expect(stored).toBe(contentHash(rest));
  });

  /**
   * Hashes computed by the code before item content was declared in one schema: a change of how the hash is built
   * that changed them would rewrite every stored item on the first sync after a deploy.
   */
  it("keeps the hashes items were stored with", () => {
    const pinned = config({
      idField: "id",
      nameField: "profile.real_name",
      lookupFields: ["profile.email", "name"],
      metadataFields: ["profile.email", "profile.title", "tz", "flags"],
      deletedField: "deleted",
    });
    const members = [
      {
        id: "U01",
        name: "derek",
        deleted: false,
        profile: { real_name: "Derek Osgood", email: "derek@example.com", title: "Eng" },
        tz: "Europe/Paris",
        flags: { admin: true, n: [1, 2.5, null] },
      },
      {
        id: 42,
        name: "sarah.chen",
        deleted: true,
        profile: { real_name: "  Sarah Chen  ", email: "sarah@example.com" },
      },
      { id: "U03", profile: {} },
      {
        id: "U04",
        name: "élodie",
        profile: { real_name: "Élodie 🚀", email: "e@x" },
        tz: null,
        flags: { api_token: "x", deep: { b: 1, a: 2 } },
      },
    ];
    const hashes = extractItems(pinned, { members }).items.map((item) => [item.externalId, item.contentHash]);
    expect(hashes).toEqual([
      ["U01", "942174950d5cf5da"],
      ["42", "030bdf9fd9b56d47"],
      ["U03", "4d5afe90135279b5"],
      ["U04", "d659f08278a889a3"],
    ]);
  });

  it("differs between a missing metadata field and a null one", () => {
    expect(contentHash({ ...base, metadata: {} })).not.toBe(contentHash({ ...base, metadata: { x: null } }));
  });

  it("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe("extractObject", () => {
  it("keeps the whole data", () => {
    const data = { objects: [{ name: "contacts", properties: [{ name: "email" }] }], meta: { v: 3 } };
    expect(extractObject(data)).toEqual(data);
  });

  it("drops secret-looking fields at any depth, as metadata does", () => {
    const data = {
      objects: [{ name: "contacts", accessToken: "tok", properties: [{ name: "email", api_key: "k" }] }],
      auth: { client_secret: "s", scopes: ["crm"] },
      password: "p",
    };
    expect(extractObject(data)).toEqual({
      objects: [{ name: "contacts", properties: [{ name: "email" }] }],
      auth: { scopes: ["crm"] },
    });
  });

  it("keeps an object nested 100,000 levels deep from overflowing the stack (cut at 32 levels)", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const extracted = extractObject({ deep });
    expect(() => canonicalJson(extracted)).not.toThrow();
    expect(canonicalJson(extracted).length).toBeLessThan(200);
  });
});

describe("secret-looking configured paths", () => {
  const record = { id: "U1", accessToken: "tok-1", name: "Ann", session: { id: "S9" }, profile: { api_key: "k" } };

  it("never reads a name or lookup value from a secret-looking path", () => {
    const { items } = extractItems(
      config({ extractionPath: "$", nameField: "accessToken", lookupFields: ["name", "profile.api_key"] }),
      [record],
    );
    expect(items[0]?.name).toBe("U1");
    expect(items[0]?.lookup).toEqual({ name: "Ann" });
    expect(JSON.stringify(items)).not.toMatch(/tok-1|"k"/);
  });

  it("never takes an id from a secret-looking path: the item fails with a reason", () => {
    const result = extractItems(config({ extractionPath: "$", idField: "session.id" }), [record]);
    expect(result.items).toEqual([]);
    expect(result.failed).toBe(1);
    expect(result.failures[0]?.reason).toMatch(/secret/);
  });

  it("leaves lookupFieldsOf without secret-looking paths", () => {
    expect(lookupFieldsOf(config({ lookupFields: ["name", "refresh_token"] }))).toEqual(["name"]);
    expect(lookupFieldsOf(config({ nameField: "name", lookupFields: ["password"] }))).toEqual(["name"]);
  });
});

describe("numbers DynamoDB cannot store", () => {
  it("keeps metadata numbers outside DynamoDB's range as strings, and ordinary numbers as numbers", () => {
    const config = referenceDataConfigSchema.parse({
      dataType: "users",
      extractionPath: "$.members",
      metadataFields: ["tiny", "huge", "plain", "nested"],
    });
    const { items, failed } = extractItems(config, {
      members: [{ id: "U1", name: "A", tiny: 1e-300, huge: 1e200, plain: 42.5, nested: { deep: [1e-200, 7] } }],
    });
    expect(failed).toBe(0);
    expect(items[0]?.metadata).toEqual({
      tiny: "1e-300",
      huge: "1e+200",
      plain: 42.5,
      nested: { deep: ["1e-200", 7] },
    });
  });
});
