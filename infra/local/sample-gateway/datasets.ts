/**
 * The sample gateway's data: small realistic datasets for the demo and the e2e tests, and deterministic synthetic
 * Slack users for the 10k/30k/100k benchmarks. Shapes follow the real upstream APIs (Slack users.list and
 * conversations.list, GitHub repos, Microsoft Graph users, a HubSpot CRM schema).
 */
import { mulberry32 } from "./prng.js";

export interface SlackUser {
  id: string;
  team_id: string;
  name: string;
  real_name?: string;
  deleted: boolean;
  is_bot: boolean;
  is_admin: boolean;
  /** Epoch seconds of the last change: what `updated_since` filters on. */
  updated: number;
  tz?: string;
  profile: { real_name: string; display_name: string; email?: string; title?: string };
}

export interface SlackChannel {
  id: string;
  name: string;
  is_archived: boolean;
  is_private: boolean;
  num_members: number;
  created: number;
  topic: { value: string };
}

export interface GithubRepo {
  id: number;
  name: string;
  full_name: string;
  private: boolean;
  default_branch: string;
  description: string | null;
}

export interface GraphUser {
  id: string;
  displayName: string;
  mail: string | null;
  userPrincipalName: string;
  jobTitle: string | null;
}

export interface SampleDatasets {
  slackUsers: SlackUser[];
  slackChannels: SlackChannel[];
  githubRepos: GithubRepo[];
  graphUsers: GraphUser[];
  crmSchema: Record<string, unknown>;
}

const TEAM = "T0SAMPLE01";
/** 2025-01-01T00:00:00Z: fixed, so data and hashes do not depend on when the test runs. */
const BASE_EPOCH_SECONDS = 1_735_689_600;

function slackUser(
  id: string,
  name: string,
  realName: string,
  options: Partial<Pick<SlackUser, "deleted" | "is_bot" | "is_admin">> & { email?: string; title?: string } = {},
): SlackUser {
  const profile: SlackUser["profile"] = { real_name: realName, display_name: name };
  if (options.email !== undefined) profile.email = options.email;
  if (options.title !== undefined) profile.title = options.title;
  return {
    id,
    team_id: TEAM,
    name,
    real_name: realName,
    deleted: options.deleted ?? false,
    is_bot: options.is_bot ?? false,
    is_admin: options.is_admin ?? false,
    updated: BASE_EPOCH_SECONDS,
    tz: "Europe/London",
    profile,
  };
}

/** Fresh copies of the demo datasets (tests mutate them freely). */
export function defaultDatasets(): SampleDatasets {
  const slackUsers: SlackUser[] = [
    slackUser("U01DEREK", "derek", "Derek Osgood", {
      email: "derek.osgood@acme.example",
      title: "Head of Engineering",
      is_admin: true,
    }),
    slackUser("U02SCHEN", "sarah.chen", "Sarah Chen", { email: "sarah.chen@acme.example", title: "Product Designer" }),
    slackUser("U03SCONN", "sarah.connor", "Sarah Connor", { email: "sarah.connor@acme.example", title: "Security" }),
    slackUser("U04JOSEA", "jose", "José Álvarez", { email: "jose.alvarez@acme.example", title: "Backend Engineer" }),
    slackUser("U05PRIYA", "priya", "Priya Natarajan", { email: "priya.n@acme.example", title: "Data Scientist" }),
    slackUser("U06MIKEO", "mike.obrien", "Mike O'Brien", { email: "mike.obrien@acme.example", title: "Sales" }),
    slackUser("U07LENAM", "lena", "Lena Müller", { email: "lena.mueller@acme.example", title: "Frontend Engineer" }),
    slackUser("U08AIKOT", "aiko", "Aiko Tanaka", { email: "aiko.tanaka@acme.example", title: "Support Lead" }),
    slackUser("U09MARCJ", "marcus", "Marcus Johnson", { email: "marcus.j@acme.example", title: "Account Executive" }),
    slackUser("U10ZOEWI", "zoe", "Zoë Williams", { email: "zoe.williams@acme.example", title: "QA Engineer" }),
    slackUser("U11TOMBE", "tom.becker", "Tom Becker", { email: "tom.becker@acme.example", deleted: true }),
    slackUser("U12DEPLO", "deploybot", "Deploy Bot", { is_bot: true }),
  ];
  const channel = (id: string, name: string, members: number, topic: string, archived = false): SlackChannel => ({
    id,
    name,
    is_archived: archived,
    is_private: false,
    num_members: members,
    created: BASE_EPOCH_SECONDS - 86_400 * 365,
    topic: { value: topic },
  });
  const slackChannels: SlackChannel[] = [
    channel("C01GENERAL", "general", 12, "Company-wide announcements"),
    channel("C02RANDOM", "random", 11, "Non-work banter"),
    channel("C03ENGINEER", "engineering", 6, "Engineering discussion"),
    channel("C04DESIGN", "design", 4, "Design reviews"),
    channel("C05FRONTEND", "frontend", 3, "Web app"),
    channel("C06SALES", "sales", 3, "Deals and pipeline"),
    channel("C07SUPPORT", "support", 5, "Customer support escalations"),
    channel("C08INCIDENT", "incidents", 8, "On-call and incidents"),
    channel("C09OLDPROJ", "project-phoenix", 2, "Archived project", true),
  ];
  const repoNames = [
    "frontend",
    "backend",
    "infra",
    "docs",
    "design-system",
    "mobile-app",
    "data-pipeline",
    "auth-service",
    "billing",
    "website",
    "cli",
    "sdk-js",
  ];
  const githubRepos: GithubRepo[] = repoNames.map((name, i) => ({
    id: 500_000_001 + i * 17,
    name,
    full_name: `acme/${name}`,
    private: i % 3 !== 0,
    default_branch: i === 3 ? "master" : "main",
    description: i === 5 ? null : `Acme ${name.replace(/-/g, " ")}`,
  }));
  const graph = (n: number, displayName: string, upn: string, jobTitle: string | null, mail = true): GraphUser => ({
    id: `6e7b768e-07e2-4810-8459-485f84f8f2${n.toString(16).padStart(2, "0")}`,
    displayName,
    mail: mail ? upn : null,
    userPrincipalName: upn,
    jobTitle,
  });
  const graphUsers: GraphUser[] = [
    graph(1, "Adele Vance", "adelev@acme.example", "Retail Manager"),
    graph(2, "Alex Wilber", "alexw@acme.example", "Marketing Assistant"),
    graph(3, "Diego Siciliani", "diegos@acme.example", "HR Manager"),
    graph(4, "Grady Archie", "gradya@acme.example", "Designer"),
    graph(5, "Isaiah Langer", "isaiahl@acme.example", "Sales Rep"),
    graph(6, "Johanna Lorenz", "johannal@acme.example", "Senior Engineer"),
    graph(7, "Megan Bowen", "meganb@acme.example", "Marketing Manager"),
    graph(8, "Conference Room Atlas", "atlas@acme.example", null, false),
  ];
  return { slackUsers, slackChannels, githubRepos, graphUsers, crmSchema: crmSchema() };
}

const FIRST = [
  "Sarah",
  "Derek",
  "Ana",
  "Ben",
  "Chloé",
  "David",
  "Elif",
  "Farah",
  "Gustavo",
  "Hana",
  "Igor",
  "Jun",
  "Kofi",
  "Lucía",
  "Mateo",
  "Nadia",
  "Oskar",
  "Pooja",
  "Quinn",
  "Rafael",
  "Sven",
  "Thandiwe",
  "Uma",
  "Viktor",
  "Wei",
  "Ximena",
  "Yusuf",
  "Zara",
];
const LAST = [
  "Chen",
  "Osgood",
  "Connor",
  "García",
  "Müller",
  "Nakamura",
  "Okafor",
  "Patel",
  "Rossi",
  "Smith",
  "Johansson",
  "Kowalski",
  "Nguyen",
  "Haddad",
  "Silva",
  "Ivanova",
  "Dubois",
  "Yilmaz",
  "Kim",
  "Andersen",
  "Fischer",
  "Mensah",
  "Popescu",
  "Lindqvist",
];

/**
 * `count` deterministic Slack users (same seed → same users): unique ids in ascending order, realistic names with
 * collisions (several "Sarah Chen"s, as in a big workspace), handles and emails. All active, none deleted.
 */
export function syntheticSlackUsers(count: number, seed = 1): SlackUser[] {
  const random = mulberry32(seed);
  const users: SlackUser[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const first = FIRST[Math.floor(random() * FIRST.length)] as string;
    const last = LAST[Math.floor(random() * LAST.length)] as string;
    const handle = `${ascii(first)}.${ascii(last)}${i}`;
    users[i] = {
      id: `U${(i + 1).toString(36).toUpperCase().padStart(9, "0")}`,
      team_id: TEAM,
      name: handle,
      real_name: `${first} ${last}`,
      deleted: false,
      is_bot: false,
      is_admin: false,
      updated: BASE_EPOCH_SECONDS + i,
      profile: { real_name: `${first} ${last}`, display_name: handle, email: `${handle}@bench.example` },
    };
  }
  return users;
}

function ascii(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
}

const CRM_OBJECTS = ["contacts", "companies", "deals", "tickets", "line_items", "products"];
const FIELD_TYPES: Array<[type: string, fieldType: string]> = [
  ["string", "text"],
  ["string", "textarea"],
  ["number", "number"],
  ["datetime", "date"],
  ["enumeration", "select"],
  ["enumeration", "checkbox"],
  ["bool", "booleancheckbox"],
];

/** A HubSpot-like CRM schema (objects and their properties), deterministic and a little over 500 KB as JSON. */
export function crmSchema(): Record<string, unknown> {
  const random = mulberry32(7);
  const objects = CRM_OBJECTS.map((objectType, o) => {
    const properties = Array.from({ length: 150 }, (_, p) => {
      const [type, fieldType] = FIELD_TYPES[Math.floor(random() * FIELD_TYPES.length)] as [string, string];
      const name = `${objectType.replace(/s$/, "")}_property_${p.toString().padStart(3, "0")}`;
      const property: Record<string, unknown> = {
        name,
        label: `${objectType[0]?.toUpperCase()}${objectType.slice(1, -1).replace(/_/g, " ")} property ${p}`,
        type,
        fieldType,
        groupName: `${objectType}_information`,
        description: `Custom ${type} property ${p} of ${objectType}, kept by the sales operations team for reporting and routing.`,
        displayOrder: p,
        hasUniqueValue: p === 0,
        hidden: false,
        hubspotDefined: p < 40,
        calculated: false,
        externalOptions: false,
        createdAt: "2024-03-01T09:00:00.000Z",
        updatedAt: "2024-11-20T16:45:00.000Z",
        formField: p % 2 === 0,
      };
      if (type === "enumeration") {
        property.options = Array.from({ length: 4 }, (_unused, k) => ({
          label: `Option ${k + 1}`,
          value: `option_${k + 1}`,
          displayOrder: k,
          hidden: false,
        }));
      }
      return property;
    });
    return {
      id: `0-${o + 1}`,
      objectTypeId: `0-${o + 1}`,
      name: objectType,
      labels: { singular: objectType.slice(0, -1), plural: objectType },
      primaryDisplayProperty: o === 0 ? "email" : "name",
      requiredProperties: o === 0 ? ["email"] : ["name"],
      searchableProperties: ["name", "email", "domain"],
      properties,
      associations: CRM_OBJECTS.filter((other) => other !== objectType).map((other, a) => ({
        id: `${o}${a}`,
        fromObjectTypeId: `0-${o + 1}`,
        toObjectTypeId: other,
        name: `${objectType}_to_${other}`,
      })),
    };
  });
  return { portalId: 4_815_162, schemaVersion: 3, generatedAt: "2025-01-01T00:00:00.000Z", objects };
}
