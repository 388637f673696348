/** Polling for an eventual state without fixed sleeps: a bounded number of short attempts. */

export interface EventuallyOptions {
  /** Attempts before giving up (default 200). */
  attempts?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
  /** Shown in the error when the condition never held. */
  what?: string;
}

/**
 * Calls `probe` until it returns a value that is not undefined (or stops throwing), and returns that value. After the
 * last attempt it throws with the last error, so a test that waits for something that never happens fails clearly.
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, options: EventuallyOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 200;
  const intervalMs = options.intervalMs ?? 100;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`${options.what ?? "condition"} did not hold after ${attempts} attempts${reason}`, {
    cause: lastError,
  });
}
