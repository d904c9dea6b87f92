/**
 * `notary-hsm audit verify` and `notary-hsm audit show` through the CLI's main() with a
 * captured Io: exit codes (0 ok, 1 failure, 2 usage), messages, the table, JSON lines,
 * filters, and the state directory from the flag or NOTARY_HSM_STATE_DIR.
 */
import { appendFile } from 'node:fs/promises';
import { main } from '../../../src/cli/main';
import type { Io } from '../../../src/cli/context';
import { openStore } from '../../../src/store';
import { GUN, logLines, logPath, refusal, signing, stateDir, writeLines } from './fixtures';

interface Captured extends Io {
  stdout: string[];
  stderr: string[];
}

function captureIo(env: NodeJS.ProcessEnv = {}): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), env };
}

/** A state dir with a refusal (day 1), targets v1 (day 2) and a delegation v1 elsewhere (day 3). */
async function populated(): Promise<{ dir: string; lastHash: string }> {
  const dir = await stateDir('cli-');
  let now = new Date('2025-01-01T10:00:00.000Z');
  const store = await openStore(dir, { now: () => now });
  await store.audit.append(refusal(1));
  now = new Date('2025-01-02T10:00:00.000Z');
  await store.state.reserve(signing(1));
  now = new Date('2025-01-03T10:00:00.000Z');
  const last = await store.state.reserve(signing(1, 'targets/ci', 'other.example.com/x'));
  await store.close();
  return { dir, lastHash: last.hash };
}

describe('notary-hsm audit', () => {
  it('verify: prints OK with the record count and last hash', async () => {
    const { dir, lastHash } = await populated();
    const io = captureIo();
    expect(await main(['audit', 'verify', '--state-dir', dir], io)).toBe(0);
    expect(io.stdout).toEqual([`audit log OK: 3 records, last hash ${lastHash}`]);
    expect(io.stderr).toEqual([]);
  });

  it('verify: takes the state dir from NOTARY_HSM_STATE_DIR, and prints JSON', async () => {
    const { dir, lastHash } = await populated();
    const io = captureIo({ NOTARY_HSM_STATE_DIR: dir });
    expect(await main(['audit', 'verify', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout.join(''))).toEqual({
      path: logPath(dir),
      ok: true,
      records: 3,
      lastHash,
    });
  });

  it('verify: prints the first problem and exits 1', async () => {
    const { dir } = await populated();
    const lines = await logLines(dir);
    await writeLines(dir, [lines[0] as string, lines[2] as string, lines[1] as string]);
    const io = captureIo();
    expect(await main(['audit', 'verify', '--state-dir', dir], io)).toBe(1);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(
      /^notary-hsm: audit log .*audit\.log fails at line 2 \(seq 3\): seq 3 where 2 was expected; the 1 records before it verify, up to hash [0-9a-f]{64} \[AUDIT_CORRUPT\]$/,
    );
  });

  it('verify: a torn tail and a missing log are failures too', async () => {
    const { dir } = await populated();
    await appendFile(logPath(dir), '{"cli');
    const torn = captureIo();
    expect(await main(['audit', 'verify', '--state-dir', dir], torn)).toBe(1);
    expect(torn.stderr.join('')).toContain('line 4: incomplete last record');
    const missing = captureIo();
    expect(await main(['audit', 'verify', '--state-dir', `${dir}/nope`], missing)).toBe(1);
    expect(missing.stderr.join('')).toContain('no audit log at');
    expect(missing.stderr.join('')).toContain('[AUDIT_UNAVAILABLE]');
  });

  it('show: prints a table of every record', async () => {
    const { dir } = await populated();
    const io = captureIo();
    expect(await main(['audit', 'show', '--state-dir', dir], io)).toBe(0);
    const rows = io.stdout.join('\n').split('\n');
    expect(rows).toHaveLength(5);
    expect(rows[0]?.split(/\s+/)).toEqual([
      'TIME',
      'CLIENT',
      'ENDPOINT',
      'GUN',
      'ROLE',
      'VERSION',
      'OUTCOME',
      'CODE',
    ]);
    expect(rows[2]?.split(/\s+/)).toEqual([
      '2025-01-01T10:00:00.000Z',
      'ci-1',
      'sign/delegation',
      GUN,
      'targets/ci',
      '1',
      'refused',
      'FORBIDDEN',
    ]);
    expect(rows[3]?.split(/\s+/)).toEqual([
      '2025-01-02T10:00:00.000Z',
      'ci',
      'sign/targets',
      GUN,
      'targets',
      '1',
      'signed',
      '-',
    ]);
  });

  it('show: filters by --gun and --since, and prints JSON lines', async () => {
    const { dir } = await populated();
    const io = captureIo();
    const argv = ['audit', 'show', '--state-dir', dir, '--gun', GUN, '--since', '2025-01-02'];
    expect(await main([...argv, '--json'], io)).toBe(0);
    expect(io.stdout).toHaveLength(1);
    expect(JSON.parse(io.stdout[0] as string)).toMatchObject({
      seq: 2,
      gun: GUN,
      role: 'targets',
      version: 1,
      outcome: 'signed',
    });
    const none = captureIo();
    expect(await main(['audit', 'show', '--state-dir', dir, '--gun', 'nobody'], none)).toBe(0);
    expect(none.stdout).toEqual(['No audit records match.']);
  });

  it('show: a --since that is no time is a usage error', async () => {
    const { dir } = await populated();
    const io = captureIo();
    expect(await main(['audit', 'show', '--state-dir', dir, '--since', 'yesterday'], io)).toBe(2);
    expect(io.stderr.join('')).toContain('[USAGE]');
    const unknown = captureIo();
    expect(await main(['audit', 'show', '--bogus'], unknown)).toBe(2);
  });
});
