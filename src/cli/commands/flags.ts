/**
 * Option values shared by several commands: `--retries` and `--timeout` of every command
 * that publishes (the bounds of the update loop, client/update-loop.ts, and the deadline
 * of each request it makes), and thresholds.
 */
import { NotaryHsmError } from '../../errors';

export interface RetryFlags {
  retries?: string;
  timeout?: string;
}

/** The flags as the loop's bounds. throws: USAGE */
export function retryOptions(flags: RetryFlags): { retries?: number; timeoutMs?: number } {
  const out: { retries?: number; timeoutMs?: number } = {};
  if (flags.retries !== undefined) {
    if (!/^(0|[1-9][0-9]{0,3})$/.test(flags.retries)) {
      throw new NotaryHsmError(
        'USAGE',
        `--retries ${JSON.stringify(flags.retries)}: expected 0 to 9999`,
      );
    }
    out.retries = Number(flags.retries);
  }
  if (flags.timeout !== undefined) {
    if (!/^[1-9][0-9]{0,4}$/.test(flags.timeout)) {
      throw new NotaryHsmError(
        'USAGE',
        `--timeout ${JSON.stringify(flags.timeout)}: expected seconds, 1 to 99999`,
      );
    }
    out.timeoutMs = Number(flags.timeout) * 1000;
  }
  return out;
}

/** Adds --retries and --timeout to a command. */
export function withRetryOptions<T extends { option(flags: string, description: string): T }>(
  cmd: T,
): T {
  return cmd
    .option(
      '--retries <n>',
      'attempts after the first when other writers move first or the server fails (default 25)',
    )
    .option('--timeout <seconds>', 'give up after this long (default 120)');
}

/** A threshold option (`--threshold`, `--root-threshold`): 1 to 999, or undefined. throws: USAGE */
export function thresholdOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,2}$/.test(value)) {
    throw new NotaryHsmError('USAGE', `${flag}: expected 1 to 999`);
  }
  return Number(value);
}
