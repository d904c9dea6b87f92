/**
 * An in-memory TrustServer over a set of metadata files, for unit tests of the reader
 * and publisher that need to tamper with what a server answers. Integration tests use
 * the real notary-server instead.
 */
import { createHash } from 'node:crypto';
import { NotaryHsmError } from '../../src/errors';
import type { TrustServer } from '../../src/client/trust-server';

export class MemoryTrustServer implements TrustServer {
  readonly files = new Map<string, Buffer>();
  readonly keys = new Map<string, Buffer>();
  readonly requests: string[] = [];

  constructor(files: Record<string, Buffer> = {}) {
    for (const [role, bytes] of Object.entries(files)) this.files.set(role, bytes);
  }

  private file(role: string): Buffer {
    const f = this.files.get(role);
    if (!f) throw new NotaryHsmError('SERVER_NOT_FOUND', `no ${role}`);
    return f;
  }

  getCurrent(_gun: string, role: string): Promise<Buffer> {
    this.requests.push(`current ${role}`);
    return Promise.resolve().then(() => Buffer.from(this.file(role)));
  }

  getByHash(_gun: string, role: string, sha256Hex: string, maxBytes: number): Promise<Buffer> {
    this.requests.push(`hash ${role}`);
    return Promise.resolve().then(() => {
      const f = this.file(role);
      if (createHash('sha256').update(f).digest('hex') !== sha256Hex) {
        throw new NotaryHsmError('SERVER_NOT_FOUND', `no ${role} with that checksum`);
      }
      if (f.length > maxBytes)
        throw new NotaryHsmError('SERVER_RESPONSE_TOO_LARGE', `${role} too large`);
      return Buffer.from(f); // the caller's own bytes, as a real download's
    });
  }

  getServerKey(_gun: string, role: 'timestamp' | 'snapshot'): Promise<Buffer> {
    return Promise.resolve().then(() => {
      const k = this.keys.get(role);
      if (!k) throw new NotaryHsmError('SERVER_NOT_FOUND', `no ${role} key`);
      return k;
    });
  }

  publish(_gun: string, files: ReadonlyArray<{ role: string; bytes: Uint8Array }>): Promise<void> {
    for (const f of files) this.files.set(f.role, Buffer.from(f.bytes));
    return Promise.resolve();
  }
}
