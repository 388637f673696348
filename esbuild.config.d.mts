import type { BuildOptions } from "esbuild";

export declare const rootDir: string;
export declare const functionsDir: string;
export declare const distDir: string;
export declare const bundleOptions: BuildOptions;
export declare function functionNames(): string[];
export declare function buildAll(options?: {
  quiet?: boolean;
  /** Where the bundles go (default `dist/`). */
  outDir?: string;
}): Promise<{ name: string; outfile: string; bytes: number }[]>;

/** One file of the admin console, as served. */
export interface ConsoleFile {
  body: string;
  contentType: string;
}
export declare const consoleDir: string;
export declare const consoleBuildOptions: BuildOptions;
export declare function buildConsole(): Promise<{ files: Record<string, ConsoleFile> }>;
export declare function consoleSizes(assets: { files: Record<string, ConsoleFile> }): {
  files: { name: string; bytes: number; gzipBytes: number }[];
  gzipBytes: number;
};
