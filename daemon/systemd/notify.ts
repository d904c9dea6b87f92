/**
 * The sd_notify protocol: tells systemd (`Type=notify`) that the daemon is ready, that it
 * is stopping, and — every WATCHDOG_USEC/2 when `WatchdogSec=` is set — that it is alive.
 * Node has no Unix datagram sockets: messages go out through unix-dgram (a small native
 * addon, one sendto() per message, no process per ping). A NOTIFY_SOCKET in the abstract
 * namespace (`@name`), which unix-dgram cannot address, is reached by running
 * systemd-notify instead (the unit then needs NotifyAccess=all). Without NOTIFY_SOCKET
 * every call does nothing. Failures to notify are logged, never thrown: systemd's own
 * timeouts are the backstop.
 */
import { execFile } from 'node:child_process';
import type * as UnixDgram from 'unix-dgram';
import type { Logger } from 'winston';

export interface Notifier {
  /** True when NOTIFY_SOCKET was set. */
  readonly active: boolean;
  /** READY=1 with a STATUS line (every listener bound, every token opened). */
  ready(status: string): void;
  /** STOPPING=1: shutdown has begun. */
  stopping(): void;
  /** RELOADING=1 … READY=1 around a SIGHUP reload. */
  reloading(): void;
  /** Starts the watchdog pings if WATCHDOG_USEC asks for them; stop() ends them. */
  startWatchdog(): void;
  /** Stops the watchdog and closes the socket. */
  stop(): void;
}

/** How one message is sent: a datagram to NOTIFY_SOCKET. */
type Send = (message: string) => void;

function datagramSender(path: string, logger: Logger): { send: Send; close: () => void } {
  // Loaded only when systemd asks for notifications: a daemon run by hand never needs the addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createSocket } = require('unix-dgram') as typeof UnixDgram;
  const socket = createSocket('unix_dgram');
  socket.on('error', (err: Error) => logger.warn('sd_notify failed', { error: err.message }));
  return {
    send: (message) => {
      const buf = Buffer.from(message);
      socket.send(buf, 0, buf.length, path, (err) => {
        if (err) logger.warn('sd_notify failed', { error: err.message, socket: path });
      });
    },
    close: () => socket.close(),
  };
}

function commandSender(socket: string, logger: Logger): { send: Send; close: () => void } {
  const env = { ...process.env, NOTIFY_SOCKET: socket };
  return {
    send: (message) => {
      execFile('systemd-notify', message.split('\n'), { env }, (err) => {
        if (err) logger.warn('systemd-notify failed', { error: err.message });
      });
    },
    close: () => undefined,
  };
}

/** The watchdog interval in ms (half of WATCHDOG_USEC) if it is meant for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/**
 * A notifier for NOTIFY_SOCKET in `env`. It removes NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID from `env` so that the token host processes the daemon starts do not see them.
 */
export function systemdNotifier(logger: Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  const socket = env.NOTIFY_SOCKET;
  const interval = watchdogIntervalMs(env);
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (socket === undefined || socket === '') {
    const nothing = (): void => undefined;
    return {
      active: false,
      ready: nothing,
      stopping: nothing,
      reloading: nothing,
      startWatchdog: nothing,
      stop: nothing,
    };
  }
  let sender: { send: Send; close: () => void };
  if (socket.startsWith('@')) {
    sender = commandSender(socket, logger);
  } else {
    sender = datagramSender(socket, logger);
  }
  let timer: NodeJS.Timeout | undefined;
  return {
    active: true,
    ready: (status) => sender.send(`READY=1\nSTATUS=${status}`),
    stopping: () => sender.send('STOPPING=1\nSTATUS=stopping'),
    reloading: () => sender.send('RELOADING=1'),
    startWatchdog: () => {
      if (interval === undefined || timer !== undefined) return;
      // A timer that fires proves the event loop turns; a stalled loop sends nothing.
      timer = setInterval(() => sender.send('WATCHDOG=1'), interval);
      timer.unref();
      logger.info('systemd watchdog on', { intervalMs: interval });
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      sender.close();
    },
  };
}
