/**
 * Entry point of notary-hsmd, the signing daemon. The daemon itself arrives with the daemon
 * issue; until then this placeholder answers --help and --version so bin/notary-hsmd and
 * packaging can be wired and tested, and refuses anything else with a usage message.
 * bin/notary-hsmd calls the exported main(); run directly, the module calls it itself.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const USAGE = `usage: notary-hsmd [--help | --version]

notary-hsmd will serve signatures from PKCS#11 keys to notary-hsm clients.
It is not implemented yet: the daemon arrives with the daemon issue.
`;

/** The version in the nearest package.json named notary-hsm (src and dist sit at different depths). */
function version(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'notary-hsm' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here; look one level up
    }
  }
  return 'unknown';
}

/** Returns the process exit code: 0 for --help/--version, 1 without arguments, 2 otherwise. */
export function main(args: readonly string[]): number {
  const [first] = args;
  if (args.length === 1 && (first === '--help' || first === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.length === 1 && (first === '--version' || first === '-V')) {
    process.stdout.write(
      `notary-hsmd ${version()} (placeholder: the daemon arrives with the daemon issue)\n`,
    );
    return 0;
  }
  if (args.length === 0) {
    process.stderr.write(
      `notary-hsmd: not implemented yet; the daemon arrives with the daemon issue\n`,
    );
    return 1;
  }
  process.stderr.write(`notary-hsmd: unknown arguments: ${args.join(' ')}\n\n${USAGE}`);
  return 2;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
