import type { z } from "zod";
import { ValidationError } from "./errors.js";

export interface FieldIssue {
  field: string;
  message: string;
}

/** Flattens zod issues into `{ field, message }` pairs, `field` being a dotted path such as `referenceData.idField`. */
export function fieldIssues(error: z.ZodError, prefix?: string): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const field = [prefix, path].filter((part) => part !== undefined && part !== "").join(".") || "(root)";
    return { field, message: issue.message };
  });
}

/** Parses `input` or throws a ValidationError whose message and details name every failing field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  prefix?: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = fieldIssues(result.error, prefix);
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.field}: ${i.message}`)
    .join("; ");
  throw new ValidationError(`Invalid ${what}: ${summary}`, { issues });
}
