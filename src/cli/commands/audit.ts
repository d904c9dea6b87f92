/**
 * `notary-hsm audit verify` and `notary-hsm audit show`: check the daemon's audit log
 * (every record and the hash chain that links them) and read it. Both only read the file,
 * so they are safe while the daemon runs.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { NotaryHsmError } from '../../errors';
import type { AuditEntry } from '../../signing/types';
import { AUDIT_LOG_FILE, readAudit, verifyAuditLog } from '../../store';
import { checkpointVerdict, decodeCheckpoint, type Checkpoint } from '../../store/checkpoint';
import type { Io } from '../context';
import { table } from '../table';

/** Where the daemon keeps its state when neither the flag nor the environment says. */
export const DEFAULT_STATE_DIR = './var/state';

interface StateDirFlags {
  stateDir?: string;
}

interface VerifyFlags extends StateDirFlags {
  json?: boolean;
  checkpoint?: string;
}

interface ShowFlags extends StateDirFlags {
  since?: string;
  gun?: string;
  json?: boolean;
}

/** The audit log from `--state-dir`, NOTARY_HSM_STATE_DIR, or ./var/state. */
function auditLogPath(flags: StateDirFlags, io: Io): string {
  const dir = flags.stateDir ?? io.env.NOTARY_HSM_STATE_DIR ?? DEFAULT_STATE_DIR;
  return resolve(dir, AUDIT_LOG_FILE);
}

/** A checkpoint file written by `notary-hsmd checkpoint export`. throws: USAGE, CHECKPOINT_UNAVAILABLE */
async function readCheckpointFile(file: string): Promise<Checkpoint> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `--checkpoint: cannot read ${file}`, { cause });
  }
  return decodeCheckpoint(text, file);
}

export async function runAuditVerify(flags: VerifyFlags, io: Io): Promise<void> {
  const path = auditLogPath(flags, io);
  const checkpoint = flags.checkpoint ? await readCheckpointFile(flags.checkpoint) : undefined;
  const result = await verifyAuditLog(path, checkpoint ? { at: checkpoint.seq } : {});
  if (flags.json)
    io.out(JSON.stringify({ path, ...result, ...(checkpoint ? { checkpoint } : {}) }));
  if (result.ok) {
    if (checkpoint && flags.checkpoint) {
      // throws AUDIT_BEHIND_CHECKPOINT: records the checkpoint covers are missing or differ
      checkpointVerdict(
        checkpoint,
        {
          path,
          head: { seq: result.records, hash: result.lastHash },
          hashAtCheckpoint: result.hashAt,
        },
        flags.checkpoint,
      );
    }
    if (!flags.json) {
      io.out(`audit log OK: ${result.records} records, last hash ${result.lastHash}`);
      if (checkpoint) {
        io.out(`it reaches the checkpoint: seq ${checkpoint.seq}, hash ${checkpoint.hash}`);
      }
    }
    return;
  }
  const e = result.error ?? { line: result.records + 1, problem: 'unknown problem' };
  throw new NotaryHsmError(
    'AUDIT_CORRUPT',
    `audit log ${path} fails at line ${e.line}${e.seq === undefined ? '' : ` (seq ${e.seq})`}: ` +
      `${e.problem}; the ${result.records} records before it verify, ` +
      `up to hash ${result.lastHash}`,
    { details: { path, ...e } },
  );
}

/** Characters a terminal would act on (C0, DEL, C1) shown as escapes. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- exactly the characters to neutralise
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function row(e: AuditEntry): string[] {
  return [
    e.time,
    e.client,
    e.endpoint,
    e.gun ?? '-',
    e.role ?? '-',
    e.version === undefined ? '-' : String(e.version),
    e.outcome,
    e.code ?? '-',
  ].map(printable);
}

function parseSince(since: string | undefined): Date | undefined {
  if (since === undefined) return undefined;
  const ms = Date.parse(since);
  if (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(ms)) {
    throw new NotaryHsmError(
      'USAGE',
      `--since ${JSON.stringify(since)}: expected an ISO 8601 time such as 2025-01-31 or ` +
        '2025-01-31T12:00:00Z',
    );
  }
  return new Date(ms);
}

export async function runAuditShow(flags: ShowFlags, io: Io): Promise<void> {
  const since = parseSince(flags.since);
  const path = auditLogPath(flags, io);
  const records = readAudit(path, {
    ...(since ? { since } : {}),
    ...(flags.gun !== undefined ? { gun: flags.gun } : {}),
  });
  if (flags.json) {
    for await (const e of records) io.out(JSON.stringify(e));
    return;
  }
  const rows: string[][] = [];
  for await (const e of records) rows.push(row(e));
  if (rows.length === 0) {
    io.out('No audit records match.');
    return;
  }
  io.out(table(['TIME', 'CLIENT', 'ENDPOINT', 'GUN', 'ROLE', 'VERSION', 'OUTCOME', 'CODE'], rows));
}

export function registerAudit(program: Command, io: Io): void {
  const audit = program
    .command('audit')
    .description("check and read the signing daemon's audit log");
  audit
    .command('verify')
    .description('verify every record of the audit log and the hash chain that links them')
    .option('--state-dir <dir>', 'the daemon state directory (env NOTARY_HSM_STATE_DIR)')
    .option(
      '--checkpoint <file>',
      'also check that the log holds every record this checkpoint covers (notary-hsmd checkpoint export)',
    )
    .option('--json', 'print JSON')
    .action((flags: VerifyFlags) => runAuditVerify(flags, io));
  audit
    .command('show')
    .description('print audit records, oldest first')
    .option('--state-dir <dir>', 'the daemon state directory (env NOTARY_HSM_STATE_DIR)')
    .option('--since <time>', 'only records at or after this ISO 8601 time')
    .option('--gun <gun>', 'only records about this GUN')
    .option('--json', 'print one JSON record per line')
    .action((flags: ShowFlags) => runAuditShow(flags, io));
}
