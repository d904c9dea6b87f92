/**
 * What the client workflows need from a Notary server: bytes by role (current or by
 * checksum), the server-held keys, and a multipart publish. NotaryServerClient is the
 * real implementation; tests may substitute anything with this shape. The bytes a read
 * returns are the caller's: nobody else holds or changes them (the reader keeps them as
 * the file's own, without a copy).
 */

export interface TrustServer {
  /** `timeoutMs` on every request: a deadline shorter than the client's default. */
  getCurrent(
    gun: string,
    role: string,
    maxBytes?: number,
    opts?: { timeoutMs?: number },
  ): Promise<Buffer>;
  getByHash(
    gun: string,
    role: string,
    sha256Hex: string,
    maxBytes: number,
    opts?: { timeoutMs?: number },
  ): Promise<Buffer>;
  getServerKey(gun: string, role: 'timestamp' | 'snapshot'): Promise<Buffer>;
  /** `timeoutMs`: a deadline for this request shorter than the client's default. */
  publish(
    gun: string,
    files: ReadonlyArray<{ role: string; bytes: Uint8Array }>,
    opts?: { timeoutMs?: number },
  ): Promise<void>;
}

/** Download bounds, as the Go client: timestamp 1 MiB, a file of unknown size 100 MiB. */
export const MAX_TIMESTAMP_BYTES = 1 << 20;
export const MAX_UNKNOWN_BYTES = 100 << 20;
