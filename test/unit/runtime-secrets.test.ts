/**
 * The runtime carries no secrets loader of its own (it would put the Secrets Manager client in every bundle): a
 * function that reads secrets provides it (`provideSecrets`), and a runtime built before that still uses it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { InternalError } from "../../shared/domain/errors.js";
import { createSecretsLoader } from "../../shared/gateway/secrets.js";
import { getRuntime, provideSecrets, resetRuntime } from "../../shared/runtime.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  resetRuntime();
});

describe("the runtime's secrets", () => {
  it("are refused, clearly, in a function that never provided a loader; then read through the provided one", async () => {
    Object.assign(process.env, { CURSOR_SECRET: "a-cursor-secret-of-32-characters", LOG_LEVEL: "error" });
    delete process.env.STACK_SECRET_ARN;
    resetRuntime();
    const runtime = getRuntime();

    await expect(runtime.secrets()).rejects.toThrow(InternalError);

    provideSecrets(createSecretsLoader);
    await expect(runtime.secrets()).resolves.toMatchObject({
      cursorKeys: { current: "a-cursor-secret-of-32-characters" },
    });
  });
});
