/** Finds test PINs in log files: each PIN as a whole word, so digests and IDs do not count. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function findPins(
  dir: string,
  files: readonly string[],
  pins: readonly string[],
): { found: string[]; lines: number } {
  const found: string[] = [];
  let lines = 0;
  const patterns = pins.map(
    (pin) => new RegExp(`(?<![0-9A-Za-z])${pin.replace(/[^0-9A-Za-z]/g, '\\$&')}(?![0-9A-Za-z])`),
  );
  for (const f of files) {
    const all = readFileSync(join(dir, f), 'utf8').split('\n');
    lines += all.length;
    all.forEach((line, i) => {
      if (patterns.some((re) => re.test(line))) found.push(`${f}:${i + 1} holds a test PIN`);
    });
  }
  return { found, lines };
}
