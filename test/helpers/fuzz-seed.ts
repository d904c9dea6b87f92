/**
 * The seed of a generative test run. By default each suite runs its own fixed seed, one
 * that passed, so that `make test` is the same run every time and a failure is a change
 * in the code, not a new draw; FUZZ_SEED=N replays run N, and FUZZ_SEED=random draws a
 * fresh seed (explore with it, then keep a failing seed as a regression). Printed once per
 * file; fast-check also prints it, with the counterexample and its path, on failure.
 */
export function fuzzSeed(what: string, fixed: number): number {
  const env = process.env.FUZZ_SEED;
  const seed =
    env === 'random'
      ? Math.floor(Math.random() * 0x7fffffff)
      : env !== undefined && env !== ''
        ? Number(env)
        : fixed;
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`FUZZ_SEED must be an integer or "random", got ${env}`);
  }
  process.stderr.write(`${what}: FUZZ_SEED=${seed} (set it to replay this run)\n`);
  return seed;
}

/** A count of runs, overridable with an environment variable (e.g. FUZZ_API_RUNS). */
export function fuzzRuns(envName: string, dflt: number): number {
  const v = Number(process.env[envName] ?? dflt);
  return Number.isSafeInteger(v) && v > 0 ? v : dflt;
}
