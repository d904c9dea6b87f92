/**
 * PEM exactly as Go's pem.EncodeToMemory writes it (64-column base64, `\n` line ends,
 * a trailing newline), and a reader for certificate bundles. Notary recomputes root key
 * IDs from PEM text, so a 76-column or newline-less PEM is a different key.
 */
import { NotaryHsmError } from '../errors';

export function goPem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** The DER of every PEM block of `type`, in order. */
export function pemBlocks(text: string, type: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (m[1] === type) out.push(Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

/**
 * DER of every certificate of a PEM bundle, leaf first.
 * throws: KEY_INVALID when there is none
 */
export function certificatesFromPem(text: string): Buffer[] {
  const certs = pemBlocks(text, 'CERTIFICATE');
  if (certs.length === 0) {
    throw new NotaryHsmError('KEY_INVALID', 'x509 key holds no PEM certificate');
  }
  return certs;
}
