/**
 * What the daemon takes from systemd's environment: the watchdog interval (half of
 * WATCHDOG_USEC, only for the process WATCHDOG_PID names), the inherited sockets (only
 * when LISTEN_PID is this process), and that both sets of variables are removed so that
 * the token host processes the daemon starts do not act on them.
 */
import { inheritedSockets } from '../../../daemon/systemd/listen-fds';
import { systemdNotifier, watchdogIntervalMs } from '../../../daemon/systemd/notify';
import { log } from '../../../src/log';

describe('systemd environment', () => {
  it('pings the watchdog every WATCHDOG_USEC/2, only when it is meant for this process', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '500000' }, 42)).toBe(250);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '500000', WATCHDOG_PID: '42' }, 42)).toBe(250);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '500000', WATCHDOG_PID: '7' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
  });

  it('does nothing without NOTIFY_SOCKET, and removes the variables it read', () => {
    const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '500000', WATCHDOG_PID: '1' };
    const n = systemdNotifier(log(), env);
    expect(n.active).toBe(false);
    n.ready('x');
    n.startWatchdog();
    n.stop();
    expect(env).toEqual({});
  });

  it('takes sockets only when LISTEN_PID is this process, and removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'http' };
    expect(inheritedSockets(env, 2)).toBeUndefined();
    expect(env).toEqual({});
    expect(inheritedSockets({}, 2)).toBeUndefined();
  });

  it('refuses a LISTEN_FDS that is not a count', () => {
    expect(() => inheritedSockets({ LISTEN_PID: '2', LISTEN_FDS: 'two' }, 2)).toThrowWithCode(
      'CONFIG_INVALID',
    );
  });
});
