/**
 * `verify` and `root show` arguments, refused before any server is asked: GUN[:TAG]
 * (a port is not a tag, a tag may hold `/`), --require-role names, --timeout, pins
 * that are neither key IDs nor certificate files (all usage errors, exit 2).
 */
import { splitReference } from '../../../src/cli/commands/verify';
import { runCli } from '../../helpers/run-cli';

describe('verify arguments', () => {
  it.each([
    ['example.com/acme/app', { gun: 'example.com/acme/app' }],
    ['example.com/acme/app:v1.4', { gun: 'example.com/acme/app', tag: 'v1.4' }],
    ['localhost:5000/acme/app', { gun: 'localhost:5000/acme/app' }],
    ['localhost:5000/acme/app:ci/build-42', { gun: 'localhost:5000/acme/app', tag: 'ci/build-42' }],
    ['app:latest', { gun: 'app', tag: 'latest' }],
  ])('%s', (ref, want) => {
    expect(splitReference(ref)).toEqual(want);
  });

  it.each(['example.com/app:', ':v1'])('refuses %s', (ref) => {
    expect(() => splitReference(ref)).toThrowWithCode('USAGE');
  });

  it.each([
    [['verify', 'example.com/app:v1', '--require-role', 'releases']],
    [['verify', 'example.com/app', '--require-role', 'targets/releases']],
    [['verify', 'example.com/app:v1', '--pin-root', 'not-a-key-or-file']],
    [['verify', 'example.com/app:v1', '--pin-root', 'ab'.repeat(32), '--timeout', 'soon']],
    [['verify', 'example.com/app:v1', '--pin-root', 'ab'.repeat(32)]], // no server
    [['root', 'show', 'example.com/app']], // no server
  ])('usage error: %j', async (args) => {
    const r = await runCli(args);
    expect(r).toMatchObject({ code: 2, errorCode: 'USAGE', out: '' });
  });
});
