/**
 * Entry point of a module host: a child process (forked with an IPC channel) or a
 * worker thread. It receives batches of HostMessages and answers each with a HostReply,
 * batching the replies that complete in the same turn of its event loop.
 */
import { parentPort } from 'node:worker_threads';
import { NotaryHsmError } from '../../errors';
import type { HostMessage, HostReply } from './protocol';
import { ModuleRuntime } from './runtime';

type Send = (replies: HostReply[]) => void;

function serve(
  send: Send,
  onBatch: (handler: (batch: HostMessage[]) => void) => void,
  exit: () => void,
): void {
  const runtime = new ModuleRuntime();
  let pending: HostReply[] = [];
  let scheduled = false;
  const reply = (r: HostReply): void => {
    pending.push(r);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const out = pending;
      pending = [];
      send(out);
    });
  };
  onBatch((batch) => {
    for (const { id, req } of batch) {
      runtime.handle(req).then(
        (value) => {
          reply({ id, ok: true, value });
          if (req.op === 'shutdown') setImmediate(exit);
        },
        (err: unknown) => {
          const e =
            err instanceof NotaryHsmError
              ? err
              : new NotaryHsmError(
                  'PKCS11_ERROR',
                  `module host failed: ${err instanceof Error ? err.name : 'error'}`,
                );
          reply({
            id,
            ok: false,
            error: { code: e.code, message: e.message, details: { ...e.details } },
          });
        },
      );
    }
  });
}

if (parentPort) {
  const port = parentPort;
  serve(
    (r) => port.postMessage(r),
    (h) => port.on('message', h),
    () => port.close(),
  );
} else if (process.send) {
  serve(
    (r) => process.send?.(r),
    (h) => process.on('message', h as (m: unknown) => void),
    () => process.disconnect(),
  );
  process.on('disconnect', () => process.exit(0));
}
