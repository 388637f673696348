import { defineConfig } from "vitest/config";

/** Test tiers, each runnable alone: `npm run test:unit`, `test:integration`, `test:infra`, `test:e2e`, `test:browser`. */
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      { test: { name: "infra", include: ["test/infra/**/*.test.ts"], testTimeout: 180_000, hookTimeout: 180_000 } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 180_000, hookTimeout: 120_000 } },
      // The admin console in headless Chromium against the local stack (one browser per file).
      { test: { name: "browser", include: ["test/browser/**/*.test.ts"], testTimeout: 90_000, hookTimeout: 120_000 } },
    ],
  },
});
