/**
 * A writer stopped by a full or read-only filesystem resumes by itself (store/writer.ts):
 * on a file opened with O_DSYNC, a write refused with ENOSPC, EDQUOT or EROFS leaves the
 * log intact up to the last durable batch, so the writer cuts off whatever part of the
 * failed batch got in, puts the chain back to its last durable record and takes appends
 * again once the cut succeeds. The rejected reservation's version stays claimed. Other
 * errors (EIO) still stop the log until it is reopened.
 */
import { openStore, verifyAuditLog } from '../../../src/store';
import { errno, logPath, refusal, signing, stateDir, TestIo, until } from './fixtures';

/** TestIo on a file opened with O_DSYNC (the daemon's default). */
class DurableIo extends TestIo {
  readonly durableWrites = true;
}

describe('a writer on a filesystem that fills up or turns read-only', () => {
  it.each(['ENOSPC', 'EROFS'])(
    'after %s, cuts the torn batch off, resumes the chain and keeps the version claimed',
    async (code) => {
      const dir = await stateDir('recover-');
      const io = new DurableIo();
      const store = await openStore(dir, { io });
      await store.audit.append(refusal(0));
      await store.state.reserve(signing(1));
      io.failWrite = errno(code);
      io.partialBytes = 17; // part of the batch reaches the file before the error
      await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
      await expect(store.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
      expect(store.problem()).toContain(code);

      io.failWrite = undefined; // space returns, or the filesystem is writable again
      await until(() => store.audit.available);
      expect(store.problem()).toBeUndefined();
      await expect(store.audit.append(refusal(2))).resolves.toMatchObject({ seq: 3 });
      await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('VERSION_ROLLBACK');
      await expect(store.state.reserve(signing(3))).resolves.toMatchObject({ seq: 4 });
      expect(store.audit.stats().recoveries).toBe(1);
      await store.close();
      await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 4 });
    },
  );

  it('does not resume after an I/O error', async () => {
    const dir = await stateDir('recover-');
    const io = new DurableIo();
    const store = await openStore(dir, { io });
    await store.audit.append(refusal(0));
    io.failWrite = errno('EIO');
    await expect(store.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    io.failWrite = undefined;
    await new Promise((r) => setTimeout(r, 1200)); // two recovery periods: nothing happens
    expect(store.audit.available).toBe(false);
    await store.close();
  });
});
