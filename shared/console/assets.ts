/**
 * The admin console's files (index.html, app.js, app.css, icon.svg). Under tsx (the local stack, tests) they are built
 * on first use with the project's esbuild options; in the Lambda bundle esbuild.config.mjs replaces this module with
 * the files themselves, so the deployed function never runs esbuild.
 */
export interface ConsoleFile {
  body: string;
  contentType: string;
}

export interface ConsoleAssets {
  files: Record<string, ConsoleFile>;
}

/** Builds the console with esbuild.config.mjs's `buildConsole` (replaced in the Lambda bundle). */
export async function loadConsoleAssets(): Promise<ConsoleAssets> {
  const { buildConsole } = await import("../../esbuild.config.mjs");
  return buildConsole();
}
