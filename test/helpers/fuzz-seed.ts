/**
 * The seed of a generative test run: FUZZ_SEED when set (to replay a run), else a fresh
 * one. Printed once per file so any run can be replayed; fast-check also prints it, with
 * the shrunk counterexample and its path, on failure.
 */
export function fuzzSeed(what: string): number {
  const env = process.env.FUZZ_SEED;
  const seed =
    env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${env}`);
  process.stderr.write(`${what}: FUZZ_SEED=${seed} (set it to replay this run)\n`);
  return seed;
}

/** A count of runs, overridable with an environment variable (e.g. FUZZ_API_RUNS). */
export function fuzzRuns(envName: string, dflt: number): number {
  const v = Number(process.env[envName] ?? dflt);
  return Number.isSafeInteger(v) && v > 0 ? v : dflt;
}
