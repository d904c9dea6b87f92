/**
 * The Notary server as pinned verification reads it: every request under one deadline
 * (an answer that has not ended by then — a slow drip without end — is SERVER_TIMEOUT),
 * the bytes last received for each role kept, so that a
 * threshold failure deep in the reader can be explained from the file itself
 * (signature-failure.ts), and root files by version for following rotations.
 */
import { NotaryHsmError } from '../errors';
import { parseEnvelope } from '../metadata/signed';
import { explainThresholdFailure } from './signature-failure';
import type { TrustServer } from './trust-server';

/** What verification needs from a server: the reader's reads, and roots by version. */
export interface VerifySource extends TrustServer {
  getByVersion(
    gun: string,
    role: string,
    version: number,
    maxBytes?: number,
    opts?: { timeoutMs?: number },
  ): Promise<Buffer>;
}

/** Wraps a server for one verification. */
export class WatchedServer implements VerifySource {
  private readonly inner: VerifySource;
  private readonly timeoutMs: number | undefined;
  private readonly last = new Map<string, Buffer>();

  constructor(inner: VerifySource, timeoutMs?: number) {
    this.inner = inner;
    this.timeoutMs = timeoutMs;
  }

  private opts(): { timeoutMs?: number } {
    return this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs };
  }

  private async watch(role: string, get: () => Promise<Buffer>): Promise<Buffer> {
    const bytes = await get();
    this.last.set(role, bytes);
    return bytes;
  }

  getCurrent(gun: string, role: string, maxBytes?: number): Promise<Buffer> {
    return this.watch(role, () => this.inner.getCurrent(gun, role, maxBytes, this.opts()));
  }

  getByHash(gun: string, role: string, sha256Hex: string, maxBytes: number): Promise<Buffer> {
    return this.watch(role, () =>
      this.inner.getByHash(gun, role, sha256Hex, maxBytes, this.opts()),
    );
  }

  getByVersion(gun: string, role: string, version: number, maxBytes?: number): Promise<Buffer> {
    return this.watch(role, () =>
      this.inner.getByVersion(gun, role, version, maxBytes, this.opts()),
    );
  }

  getServerKey(gun: string, role: 'timestamp' | 'snapshot'): Promise<Buffer> {
    return this.inner.getServerKey(gun, role);
  }

  publish(): Promise<void> {
    return Promise.reject(new NotaryHsmError('USAGE', 'verification never publishes'));
  }

  /** `err` from reading through this server, with a threshold failure explained. */
  explain(err: unknown): unknown {
    if (!(err instanceof NotaryHsmError) || err.code !== 'THRESHOLD_NOT_MET') return err;
    const role = typeof err.details.role === 'string' ? err.details.role : undefined;
    const bytes = role === undefined ? undefined : this.last.get(role);
    if (role === undefined || bytes === undefined) return err;
    try {
      return explainThresholdFailure(err, parseEnvelope(bytes).signatures, `${role}.json`);
    } catch {
      return err;
    }
  }
}
