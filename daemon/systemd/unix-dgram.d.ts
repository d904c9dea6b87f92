/** The part of unix-dgram (a native addon without its own types) that notify.ts uses. */
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  interface UnixDgramSocket extends EventEmitter {
    send(
      buf: Buffer,
      offset: number,
      length: number,
      path: string,
      callback: (err?: Error) => void,
    ): void;
    /** Binds a receiving socket to a path (the tests' stand-in for systemd's NOTIFY_SOCKET). */
    bind(path: string): void;
    close(): void;
  }

  export function createSocket(type: 'unix_dgram'): UnixDgramSocket;
}
