/**
 * Jest setup shared by every test file: the `toThrowWithCode` matcher, which asserts
 * that a function (or a promise) fails with a NotaryHsmError of a given code.
 */
import { isNotaryHsmError } from '../../src/errors';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /** The function throws (or the promise rejects with) a NotaryHsmError with `code`. */
      toThrowWithCode(code: string): R;
    }
  }
}

function check(err: unknown, code: string, threw: boolean): jest.CustomMatcherResult {
  if (!threw)
    return {
      pass: false,
      message: () => `expected an error with code ${code}, nothing was thrown`,
    };
  if (!isNotaryHsmError(err)) {
    return { pass: false, message: () => `expected a NotaryHsmError ${code}, got ${String(err)}` };
  }
  return {
    pass: err.code === code,
    message: () => `expected code ${code}, got ${err.code}: ${err.message}`,
  };
}

expect.extend({
  toThrowWithCode(received: unknown, code: string) {
    if (received instanceof Promise) {
      return received.then(
        () => check(undefined, code, false),
        (err: unknown) => check(err, code, true),
      );
    }
    if (received instanceof Error) {
      // `expect(promise).rejects.toThrowWithCode(code)` hands over the rejection reason.
      return check(received, code, true);
    }
    if (typeof received !== 'function') {
      return {
        pass: false,
        message: () => 'toThrowWithCode expects a function, a promise or an error',
      };
    }
    try {
      (received as () => unknown)();
    } catch (err) {
      return check(err, code, true);
    }
    return check(undefined, code, false);
  },
});
