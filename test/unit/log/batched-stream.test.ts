/**
 * The stderr side of the project logger: what is written during one event-loop turn
 * leaves in one write, in order, at the end of the turn; nothing is held longer.
 */
import { Writable } from 'node:stream';
import { TurnBatchedStream } from '../../../src/log';

function target(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  return { stream, writes };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatchedStream', () => {
  it('writes the lines of one turn together, in order, after the turn', async () => {
    const { stream, writes } = target();
    const batched = new TurnBatchedStream(stream);
    batched.write('a\n');
    batched.write(Buffer.from('b\n'));
    await Promise.resolve();
    batched.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    batched.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('flush writes what is pending at once, and nothing twice', async () => {
    const { stream, writes } = target();
    const batched = new TurnBatchedStream(stream);
    batched.write('a\n');
    batched.flush();
    expect(writes).toEqual(['a\n']);
    await nextTurn();
    expect(writes).toEqual(['a\n']);
  });
});
