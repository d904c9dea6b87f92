/**
 * Runs the notary-hsm CLI in process with captured output: the exit code, stdout and
 * stderr as text, and the error code the CLI printed (`[CODE]` at the end of its
 * message), so tests assert refusals by code.
 */
import { main } from '../../src/cli/main';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** The `[CODE]` of the failure message, if the command failed with one. */
  readonly errorCode?: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env,
  });
  const errText = err.join('\n');
  const m = /\[([A-Z][A-Z0-9_]+)\]\s*$/.exec(errText);
  return { code, out: out.join('\n'), err: errText, ...(m?.[1] ? { errorCode: m[1] } : {}) };
}
