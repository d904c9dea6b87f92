/**
 * The two things the root key checks read from a certificate that Node's X509Certificate
 * does not give as data: the subject's common name, as Go's crypto/x509 fills
 * `Subject.CommonName` (the last CN attribute whose value is a string), and the outer
 * signature algorithm's OID. A strict DER walk over the certificate Node already parsed;
 * anything unexpected is "not found", never a guess.
 */

interface Tlv {
  readonly tag: number;
  /** Start and end of the contents. */
  readonly start: number;
  readonly end: number;
}

/** The TLV at `pos`, or undefined when it does not fit within `limit`. */
function readTlv(b: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = b[pos] as number;
  let len = b[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] as number);
    start += n;
  }
  const end = start + len;
  return end <= limit ? { tag, start, end } : undefined;
}

/** The TLVs directly inside a constructed `outer`. */
function children(b: Buffer, outer: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = outer.start; pos < outer.end;) {
    const t = readTlv(b, pos, outer.end);
    if (!t) return [];
    out.push(t);
    pos = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
/** 2.5.4.3, id-at-commonName. */
const CN_OID = Buffer.from([0x55, 0x04, 0x03]);

/** A directory string as Go's asn1 decodes it into a Go string, or undefined. */
function directoryString(b: Buffer, t: Tlv): string | undefined {
  const v = b.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x0c: // UTF8String
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(v);
      } catch {
        return undefined;
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
      return [...v].every((c) => c < 0x80) ? v.toString('latin1') : undefined;
    case 0x14: // T61String, read as Latin-1 as Go does
      return v.toString('latin1');
    case 0x1e: {
      // BMPString: UTF-16BE
      if (v.length % 2) return undefined;
      const le = Buffer.from(v);
      le.swap16();
      return le.toString('utf16le');
    }
    default:
      return undefined;
  }
}

/** The top-level parts of a certificate: tbsCertificate and signatureAlgorithm. */
function certificateParts(der: Buffer): { tbs: Tlv; sigAlg: Tlv } | undefined {
  const cert = readTlv(der, 0, der.length);
  if (cert?.tag !== SEQUENCE) return undefined;
  const [tbs, sigAlg] = children(der, cert);
  if (tbs?.tag !== SEQUENCE || sigAlg?.tag !== SEQUENCE) return undefined;
  return { tbs, sigAlg };
}

/** The subject common name as Go reads it (the last string-valued CN), or undefined. */
export function subjectCommonName(der: Buffer): string | undefined {
  const parts = certificateParts(der);
  if (!parts) return undefined;
  const fields = children(der, parts.tbs);
  // [0] version is optional; then serial, signature, issuer, validity, subject.
  const subject = fields[(fields[0]?.tag === 0xa0 ? 1 : 0) + 4];
  if (subject?.tag !== SEQUENCE) return undefined;
  let cn: string | undefined;
  for (const rdn of children(der, subject)) {
    if (rdn.tag !== SET) return undefined;
    for (const atv of children(der, rdn)) {
      if (atv.tag !== SEQUENCE) return undefined;
      const [type, value] = children(der, atv);
      if (type?.tag !== OID || !value) return undefined;
      if (!der.subarray(type.start, type.end).equals(CN_OID)) continue;
      const s = directoryString(der, value);
      if (s !== undefined) cn = s;
    }
  }
  return cn;
}

/** The outer signature algorithm's OID in dotted form, or undefined. */
export function signatureAlgorithmOid(der: Buffer): string | undefined {
  const parts = certificateParts(der);
  if (!parts) return undefined;
  const [oid] = children(der, parts.sigAlg);
  if (oid?.tag !== OID || oid.end === oid.start) return undefined;
  const v = der.subarray(oid.start, oid.end);
  const first = v[0] as number;
  const arcs = [
    Math.min(2, Math.floor(first / 40)),
    first - 40 * Math.min(2, Math.floor(first / 40)),
  ];
  let n = 0;
  for (let i = 1; i < v.length; i++) {
    const byte = v[i] as number;
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(n);
      n = 0;
    }
  }
  return arcs.join('.');
}
