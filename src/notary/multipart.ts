/**
 * The multipart/form-data body of a Notary publish, byte for byte as Go's client writes it
 * (storage/httpstore.go with mime/multipart): one part per role, each named "files" with
 * filename = role name and Content-Type application/octet-stream, the file bytes verbatim
 * (the server stores exactly what it reads, so nothing is added — not even a newline),
 * CRLF delimiters and a 60-hex-digit random boundary that occurs in no part.
 */
import { randomBytes } from 'node:crypto';

export interface MultipartFile {
  role: string;
  bytes: Uint8Array;
}

export interface MultipartBody {
  contentType: string;
  /** The body in parts, in order: the file bytes as they are (a 2 MB file is not copied). */
  parts: readonly Buffer[];
}

/** Go's mime/multipart escaping of a quoted header parameter. */
function quote(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

function randomBoundary(): string {
  return randomBytes(30).toString('hex');
}

/** Builds the body; `boundary` is for tests (a fresh random one otherwise). */
export function multipartBody(files: readonly MultipartFile[], boundary?: string): MultipartBody {
  let b = boundary ?? randomBoundary();
  // Views of the files' bytes (a metadata file may be 1 MB): searched in place, sent as they are.
  const views = files.map((f) =>
    Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength),
  );
  while (views.some((v) => v.includes(`--${b}`))) {
    if (boundary !== undefined) throw new Error('multipart boundary occurs in a part');
    b = randomBoundary();
  }
  const chunks: Buffer[] = [];
  files.forEach((file, i) => {
    const head =
      `${i === 0 ? '' : '\r\n'}--${b}\r\n` +
      `Content-Disposition: form-data; name="files"; filename="${quote(file.role)}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    chunks.push(Buffer.from(head, 'utf8'), views[i] as Buffer);
  });
  chunks.push(Buffer.from(`${files.length === 0 ? '' : '\r\n'}--${b}--\r\n`, 'utf8'));
  return {
    contentType: `multipart/form-data; boundary=${b}`,
    parts: chunks,
  };
}
