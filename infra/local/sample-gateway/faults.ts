/**
 * Fault injection for the sample gateway (issue 7): a fraction of calls fail with 500, 503, 429, a timeout or
 * truncated JSON. Decisions are deterministic for a given seed AND independent of how concurrent calls interleave:
 * each call is identified by what it asks for (tenant, connection, action, input) and how many times that same call
 * was made before, and that identity seeds the PRNG.
 */
import { z } from "zod";
import { hash32, mulberry32 } from "./prng.js";

export type FaultKind = "500" | "429" | "timeout" | "truncated" | "503";
export const FAULT_KINDS: readonly FaultKind[] = ["500", "503", "429", "timeout", "truncated"];

export interface FaultOptions {
  /** Probability in [0, 1] that a call fails. */
  rate: number;
  seed: number;
  /** Which failures to draw from (default: all five). */
  kinds?: Array<FaultKind>;
  /** How long a "timeout" call hangs before answering 504 (default 20 s; clients should give up before). */
  timeoutMs?: number;
  /** The wait a "429" asks for (default 1000 ms; `Retry-After` is this rounded up to whole seconds). */
  retryAfterMs?: number;
}

export const DEFAULT_FAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_RETRY_AFTER_MS = 1_000;

const envSchema = z.object({
  SAMPLE_GATEWAY_FAULT_RATE: z.coerce.number().min(0).max(1).optional(),
  SAMPLE_GATEWAY_FAULT_SEED: z.coerce.number().int().default(1),
  SAMPLE_GATEWAY_FAULTS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const kinds = value.split(",").map((kind) => kind.trim());
      const unknown = kinds.filter((kind) => !(FAULT_KINDS as readonly string[]).includes(kind));
      if (unknown.length > 0) {
        ctx.addIssue({ code: "custom", message: `unknown fault kinds ${unknown.join(", ")} (use ${FAULT_KINDS}) ` });
        return z.NEVER;
      }
      return kinds as FaultKind[];
    }),
  SAMPLE_GATEWAY_FAULT_TIMEOUT_MS: z.coerce.number().int().min(0).optional(),
});

/** Fault options from SAMPLE_GATEWAY_FAULT_RATE / _SEED / SAMPLE_GATEWAY_FAULTS; undefined when no rate is set. */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultOptions | undefined {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid sample gateway fault settings: ${reasons}`);
  }
  const { SAMPLE_GATEWAY_FAULT_RATE: rate, SAMPLE_GATEWAY_FAULT_SEED: seed } = parsed.data;
  if (rate === undefined || rate === 0) return undefined;
  const faults: FaultOptions = { rate, seed };
  if (parsed.data.SAMPLE_GATEWAY_FAULTS !== undefined) faults.kinds = parsed.data.SAMPLE_GATEWAY_FAULTS;
  if (parsed.data.SAMPLE_GATEWAY_FAULT_TIMEOUT_MS !== undefined) {
    faults.timeoutMs = parsed.data.SAMPLE_GATEWAY_FAULT_TIMEOUT_MS;
  }
  return faults;
}

/** Decides, call by call, whether and how to fail. */
export class FaultInjector {
  private readonly repeats = new Map<string, number>();

  constructor(readonly options: FaultOptions) {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new Error(`fault rate must be in [0, 1], got ${options.rate}`);
    if (options.kinds !== undefined && options.kinds.length === 0) throw new Error("fault kinds must not be empty");
  }

  /** The fault for the call identified by `identity`, or undefined to answer normally. */
  pick(identity: string): FaultKind | undefined {
    const repeat = this.repeats.get(identity) ?? 0;
    this.repeats.set(identity, repeat + 1);
    const random = mulberry32(hash32(`${this.options.seed}\u0000${identity}\u0000${repeat}`));
    if (random() >= this.options.rate) return undefined;
    const kinds = this.options.kinds ?? FAULT_KINDS;
    return kinds[Math.floor(random() * kinds.length)];
  }
}
