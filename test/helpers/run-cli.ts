/**
 * Runs the notary-hsm CLI in process with captured output: the exit code, stdout and
 * stderr as text, and the error code the CLI printed (`[CODE]` at the end of its
 * message, or with --json the `error.code` of the JSON object on its last line), so tests
 * assert refusals by code.
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
  const errorCode = m?.[1] ?? jsonErrorCode(err.at(-1));
  return { code, out: out.join('\n'), err: errText, ...(errorCode ? { errorCode } : {}) };
}

function jsonErrorCode(line: string | undefined): string | undefined {
  if (line === undefined || !line.trim().startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
  } catch {
    return undefined;
  }
}
