/**
 * Schema problems as people read them: one `path: message` line per issue of a zod
 * result. Shared by everything that validates a document against a schema (the
 * configuration, client entries, HSM profiles), so that each reports every problem at
 * once in the same words.
 */
import type { z } from 'zod';

/** Every problem of a zod result, as `path: message` lines. */
export function zodProblems(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`);
}
