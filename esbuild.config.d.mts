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
