/**
 * The PINs the suite uses, collected so that global teardown can prove none of them
 * reached a log: every helper that creates a token (or a test that tries a wrong PIN)
 * records its PINs here, in a file beside the suite's log file.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** Records test PINs (no-op outside a jest run that set up the suite log directory). */
export function recordTestPins(...pins: string[]): void {
  const dir = process.env.NOTARY_HSM_SUITE_LOG_DIR;
  if (!dir) return;
  appendFileSync(join(dir, 'pins.txt'), pins.map((p) => `${p}\n`).join(''));
}

/**
 * Records other secrets the suite uses (registry passwords, NOTARY_AUTH values, bearer
 * tokens) in the same list, so teardown proves none of them reached a log either.
 */
export function recordTestCredentials(...secrets: string[]): void {
  recordTestPins(...secrets);
}
