/**
 * SIGHUP reloads the client list from the configuration file: a client added to the
 * file is accepted after the signal; a file that no longer validates is refused, the
 * clients in force stay, and the daemon keeps serving.
 */
import { writeFileSync } from 'node:fs';
import { call } from '../../helpers/daemon-api';
import { makeDaemonSetup, startDaemonProcess, type DaemonProcess } from '../../helpers/daemon';
import { newClient, writeConfigVariant } from '../../helpers/daemon-config';

/** Waits until `text` has appeared `n` times in the daemon's output (no clock involved). */
async function logged(daemon: DaemonProcess, text: string, n: number): Promise<void> {
  const count = (): number => daemon.output().split(text).length - 1;
  while (count() < n) {
    await new Promise((resolve) => {
      const done = (): void => {
        daemon.child.stdout?.off('data', done);
        daemon.child.stderr?.off('data', done);
        resolve(undefined);
      };
      daemon.child.stdout?.once('data', done);
      daemon.child.stderr?.once('data', done);
    });
  }
}

describe('SIGHUP', () => {
  let daemon: DaemonProcess | undefined;
  afterAll(async () => {
    await daemon?.stop();
  });

  it('reloads the client list; a broken file keeps the old clients and the daemon up', async () => {
    const setup = await makeDaemonSetup();
    const file = writeConfigVariant(setup, 'reload.yaml', () => undefined);
    daemon = await startDaemonProcess(file, { NOTARY_HSM_LOG_LEVEL: 'info' });
    const added = newClient('late', [
      {
        kind: 'delegation',
        keys: ['ci'],
        guns: ['localhost:5000/e2e/*'],
        roles: ['targets/ci'],
        paths: ['v*'],
      },
    ]);
    expect((await call(daemon.url, { path: '/v1/keys', token: added.token })).status).toBe(401);

    writeConfigVariant(setup, 'reload.yaml', (doc) => doc.clients.push(added.entry));
    daemon.child.kill('SIGHUP');
    await logged(daemon, 'reloaded the client list', 1);
    expect((await call(daemon.url, { path: '/v1/keys', token: added.token })).status).toBe(200);
    expect(daemon.output()).toContain('"clients":3');
    expect(daemon.output()).not.toContain(added.token);

    writeFileSync(file, 'clients: [ {name: broken\n');
    daemon.child.kill('SIGHUP');
    await logged(daemon, 'reload refused', 1);
    expect(daemon.child.exitCode).toBeNull();
    expect((await call(daemon.url, { path: '/v1/keys', token: added.token })).status).toBe(200);
    expect((await call(daemon.url, { path: '/v1/keys', token: setup.ciToken })).status).toBe(200);
  });
});
