/**
 * Jest global teardown: no PIN or registry credential used anywhere in the suite appears in
 * any log record any process wrote during the run (test workers, daemons, module hosts).
 * Fails the run, naming the file and line, if one does.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPins } from './pin-scan';

export default function globalTeardown(): void {
  const dir = process.env.NOTARY_HSM_SUITE_LOG_DIR;
  if (!dir || !existsSync(dir)) return;
  const pinsFile = join(dir, 'pins.txt');
  const pins = existsSync(pinsFile)
    ? [
        ...new Set(
          readFileSync(pinsFile, 'utf8')
            .split('\n')
            .filter((p) => p.length >= 4),
        ),
      ]
    : [];
  const { found, lines } = findPins(
    dir,
    readdirSync(dir).filter((f) => f !== 'pins.txt'),
    pins,
  );
  if (found.length > 0)
    throw new Error(`PINs or credentials in log output:\n  ${found.slice(0, 20).join('\n  ')}`);
  console.log(
    `\nno PIN or credential in the suite's logs: ${pins.length} test secrets searched in ${lines} log lines`,
  );
  rmSync(dir, { recursive: true, force: true });
}
