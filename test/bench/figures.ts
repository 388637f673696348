/** A benchmark figure: printed beside its target and written to test/bench/results.json under `key`. */
export interface BenchFigure {
  /** Dotted key in results.json, e.g. `unchangedResync.itemWrites`. */
  key: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. `= 0` or `<= 5 ms`; omitted when the figure is informational. */
  target?: string;
  /** Whether the value meets the target; undefined when there is no target. */
  ok?: boolean;
}

/** A benchmark module exports `run(): Promise<BenchFigure[]>`; test/bench/run.ts runs them all. */
export type BenchModule = { run: () => Promise<BenchFigure[]> };
