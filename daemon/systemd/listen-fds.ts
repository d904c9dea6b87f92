/**
 * Socket activation: the listening sockets systemd passes (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES; the sockets are file descriptors 3, 4, …). Each one is told apart as a
 * Unix or a TCP socket by its inode in /proc/net/unix, before the daemon serves on it —
 * a TLS listener is only put on TCP sockets.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { NotaryHsmError } from '../../src/errors';

/** SD_LISTEN_FDS_START */
const FIRST_FD = 3;

export interface InheritedSocket {
  readonly fd: number;
  /** Its FileDescriptorName= (or `unknown`, as systemd says when there is none). */
  readonly name: string;
  readonly kind: 'unix' | 'tcp';
}

function socketInode(fd: number): string {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (cause) {
    throw new NotaryHsmError('CONFIG_INVALID', `LISTEN_FDS: file descriptor ${fd} is not open`, {
      cause,
    });
  }
  const m = /^socket:\[(\d+)\]$/.exec(link);
  if (!m) {
    throw new NotaryHsmError('CONFIG_INVALID', `LISTEN_FDS: file descriptor ${fd} is not a socket`);
  }
  return m[1] as string;
}

/** Inodes of the Unix sockets in this network namespace (the 7th column of /proc/net/unix). */
function unixInodes(): Set<string> {
  const lines = readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[6]).filter((i): i is string => !!i));
}

/**
 * The sockets passed to this process, or undefined when there are none (LISTEN_PID not
 * ours or LISTEN_FDS unset). Removes the three variables from `env` (as sd_listen_fds
 * does) so that the processes the daemon starts do not take the sockets for theirs.
 * throws: CONFIG_INVALID for a malformed LISTEN_FDS or a descriptor that is not a socket
 */
export function inheritedSockets(
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
): InheritedSocket[] | undefined {
  const { LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (LISTEN_FDS === undefined || LISTEN_PID === undefined || Number(LISTEN_PID) !== pid) {
    return undefined;
  }
  const count = Number(LISTEN_FDS);
  if (!/^[0-9]+$/.test(LISTEN_FDS) || count < 1) {
    throw new NotaryHsmError('CONFIG_INVALID', `LISTEN_FDS=${LISTEN_FDS}: not a socket count`);
  }
  const names = LISTEN_FDNAMES?.split(':') ?? [];
  const unix = unixInodes();
  return Array.from({ length: count }, (_, i) => {
    const fd = FIRST_FD + i;
    return { fd, name: names[i] || 'unknown', kind: unix.has(socketInode(fd)) ? 'unix' : 'tcp' };
  });
}
