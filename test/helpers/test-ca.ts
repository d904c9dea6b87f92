/**
 * A certificate authority made in the test with openssl: a self-signed EC P-256 CA, and
 * server or client certificates it signs (server: subjectAltName IP; client: extended key
 * usage clientAuth). Files are PEM in the given directory; nothing outside it is touched.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  readonly cert: string;
  readonly key: string;
  readonly dir: string;
  readonly name: string;
}

export interface Issued {
  readonly cert: string;
  readonly key: string;
}

/** A new CA named `name` (its CN), its files in `dir`. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  const cert = join(dir, `${name}-ca.crt`);
  const key = join(dir, `${name}-ca.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '30', '-subj', `/CN=${name} test CA`, '-keyout', key, '-out', cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
  ]); // prettier-ignore
  return { cert, key, dir, name };
}

/**
 * A certificate signed by `ca`: for a server at `ip` (subjectAltName) or a client, with
 * subject `subject` (e.g. `/CN=ci-runner/O=acme`). `file` names its files.
 */
export async function issue(
  ca: TestCa,
  file: string,
  opts: { subject: string; ip?: string },
): Promise<Issued> {
  const cert = join(ca.dir, `${file}.crt`);
  const key = join(ca.dir, `${file}.key`);
  const csr = join(ca.dir, `${file}.csr`);
  const ext = join(ca.dir, `${file}.ext`);
  await writeFile(
    ext,
    opts.ip
      ? `subjectAltName=IP:${opts.ip}\nextendedKeyUsage=serverAuth\n`
      : 'extendedKeyUsage=clientAuth\n',
  );
  await run('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', opts.subject, '-keyout', key, '-out', csr,
  ]); // prettier-ignore
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '30', '-extfile', ext, '-out', cert,
  ]); // prettier-ignore
  return { cert, key };
}
