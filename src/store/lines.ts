/**
 * Reads a file of `\n`-terminated lines as a stream, with the byte offset of each line, so
 * that recovery can cut the file exactly where its last complete record ends. Memory stays
 * bounded by the chunk size and the longest line allowed; a longer run of bytes without a
 * newline is reported as one overlong line instead of being buffered.
 */
import type { FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;

/** One line of the file, without its `\n`. */
export interface FileLine {
  /** 1-based. */
  readonly number: number;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** The line's bytes (empty when `overlong`). */
  readonly bytes: Buffer;
  /** Byte length in the file, without the `\n`. */
  readonly length: number;
  /** False for a last line that has no `\n` after it. */
  readonly terminated: boolean;
  /** More than `maxLength` bytes before the next `\n` (the bytes were not kept). */
  readonly overlong: boolean;
}

/**
 * The lines of an open file, from its start to its end as it is when reading gets there.
 * The handle stays open (the caller owns it).
 */
export async function* readLines(file: FileHandle, maxLength: number): AsyncGenerator<FileLine> {
  let parts: Buffer[] = [];
  let partLength = 0; // bytes of the current line seen so far (kept or not)
  let overlong = false;
  let lineStart = 0;
  let position = 0;
  let number = 0;
  for (;;) {
    // a fresh chunk each time: the lines handed out are views into it
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, position);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    position += bytesRead;
    let from = 0;
    while (from < bytesRead) {
      const nl = chunk.indexOf(10, from);
      const to = nl === -1 ? bytesRead : nl;
      partLength += to - from;
      if (!overlong && partLength > maxLength) {
        overlong = true;
        parts = [];
      }
      if (!overlong && to > from) parts.push(chunk.subarray(from, to));
      if (to === bytesRead) break;
      number++;
      yield {
        number,
        offset: lineStart,
        bytes: overlong ? Buffer.alloc(0) : Buffer.concat(parts, partLength),
        length: partLength,
        terminated: true,
        overlong,
      };
      lineStart += partLength + 1;
      parts = [];
      partLength = 0;
      overlong = false;
      from = to + 1;
    }
  }
  if (partLength > 0) {
    number++;
    yield {
      number,
      offset: lineStart,
      bytes: overlong ? Buffer.alloc(0) : Buffer.concat(parts, partLength),
      length: partLength,
      terminated: false,
      overlong,
    };
  }
}
