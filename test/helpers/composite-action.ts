/**
 * Runs a composite action's `run:` steps the way the GitHub runner does, as far as a
 * test on this machine can: each step's `env:` with its `${{ … }}` expressions evaluated
 * (only `inputs.*`, `github.action_path` and `steps.ID.outputs.*`, anything else is an
 * error), the script in `bash --noprofile --norc -eo pipefail` from its
 * `working-directory`, `GITHUB_OUTPUT` a file read back into `steps.ID.outputs`, and the
 * `::add-mask::` workflow commands taken out of the log and collected. Steps that `uses:`
 * another action (setup-node) are reported as skipped: the test's own Node runs instead.
 * The environment is the runner's minimum (PATH, HOME, RUNNER_TEMP, GITHUB_*), nothing of
 * the test process's own.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeTempDir } from './tmp';

export interface ActionInput {
  readonly description?: string;
  readonly required?: boolean;
  readonly default?: string;
}

export interface ActionStep {
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly shell?: string;
  readonly run?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly 'working-directory'?: string;
}

export interface CompositeAction {
  readonly inputs: Readonly<Record<string, ActionInput>>;
  readonly outputs: Readonly<Record<string, { value: string }>>;
  readonly runs: { readonly using: string; readonly steps: readonly ActionStep[] };
}

export function readAction(file: string): CompositeAction {
  return parse(readFileSync(file, 'utf8')) as CompositeAction;
}

export interface ActionRun {
  readonly code: number;
  /** Everything the steps printed (stdout and stderr), workflow commands taken out. */
  readonly log: string;
  readonly masks: readonly string[];
  readonly outputs: Readonly<Record<string, string>>;
  readonly skipped: readonly string[];
  readonly runnerTemp: string;
}

interface Context {
  inputs: Record<string, string>;
  actionPath: string;
  steps: Record<string, Record<string, string>>;
}

/** Evaluates the `${{ … }}` expressions of one value. throws on any other expression */
export function expand(value: string, ctx: Context): string {
  return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    let m = /^inputs\.([\w-]+)$/.exec(expr);
    if (m) return ctx.inputs[m[1] as string] ?? '';
    if (expr === 'github.action_path') return ctx.actionPath;
    m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
    if (m) return ctx.steps[m[1] as string]?.[m[2] as string] ?? '';
    throw new Error(`expression the test runner does not evaluate: ${expr}`);
  });
}

function readOutputs(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function runScript(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

/** Runs the action in `actionPath` with `inputs` (defaults filled in as the runner does). */
export async function runCompositeAction(
  actionPath: string,
  given: Readonly<Record<string, string>>,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<ActionRun> {
  const action = readAction(join(actionPath, 'action.yml'));
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = given[name] ?? spec.default ?? '';
    if (spec.required && value === '') throw new Error(`input ${name} is required`);
    inputs[name] = value;
  }
  for (const name of Object.keys(given))
    if (!(name in action.inputs)) throw new Error(`the action has no input ${name}`);
  const runnerTemp = await makeTempDir('runner-temp-');
  const workspace = await makeTempDir('runner-workspace-');
  const ctx: Context = { inputs, actionPath, steps: {} };
  const masks: string[] = [];
  const skipped: string[] = [];
  let log = '';
  for (const [i, step] of action.runs.steps.entries()) {
    if (step.uses !== undefined) {
      skipped.push(step.uses);
      continue;
    }
    const outputFile = join(runnerTemp, `output-${i}`);
    writeFileSync(outputFile, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RUNNER_TEMP: runnerTemp,
      GITHUB_OUTPUT: outputFile,
      GITHUB_ACTION_PATH: actionPath,
      GITHUB_WORKSPACE: workspace,
      ...extraEnv,
    };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = expand(String(v), ctx);
    const cwd = step['working-directory'] ? expand(step['working-directory'], ctx) : workspace;
    const r = await runScript(step.run ?? '', cwd, env);
    for (const line of r.text.split('\n')) {
      if (line.startsWith('::add-mask::')) masks.push(line.slice('::add-mask::'.length));
      else log += line + '\n';
    }
    if (step.id) ctx.steps[step.id] = readOutputs(outputFile);
    if (r.code !== 0) return { code: r.code, log, masks, outputs: {}, skipped, runnerTemp };
  }
  const outputs: Record<string, string> = {};
  for (const [name, o] of Object.entries(action.outputs)) outputs[name] = expand(o.value, ctx);
  return { code: 0, log, masks, outputs, skipped, runnerTemp };
}
