/**
 * The project logger (src/log.ts) for unit tests: a fresh module instance at level info,
 * its stderr captured, the environment restored after.
 */
import type winston from 'winston';
import type * as LogModule from '../../../src/log';

/** Writes what the project logger's stderr stream holds (it would at the end of the turn). */
export function flushLog(logger: winston.Logger): void {
  (logger.transports[0] as unknown as { _stream: { flush(): void } })._stream.flush();
}

/**
 * Runs `fn` with a fresh project logger at info on a captured stderr; `lines()` flushes it
 * and returns what it wrote, a line each. `env` sets more of its variables.
 */
export function withProjectLogger(
  env: { NOTARY_HSM_LOG_FORMAT?: string },
  fn: (mod: typeof LogModule, lines: () => string[]) => void,
): void {
  const saved = { ...process.env };
  process.env.NOTARY_HSM_LOG_LEVEL = 'info';
  delete process.env.NOTARY_HSM_LOG_FILE;
  delete process.env.NOTARY_HSM_LOG_FORMAT;
  Object.assign(process.env, env);
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('../../../src/log') as typeof LogModule;
      fn(mod, () => {
        flushLog(mod.log());
        return written
          .join('')
          .split(/(?<=\n)/)
          .filter((l) => l !== '');
      });
    });
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
}
