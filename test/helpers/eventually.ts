/**
 * Waiting, bounded, for something a daemon does by itself (a recovery, a log line): polls
 * `check` every 100 ms and fails naming `what` after `ms`. The bound is generous; tests
 * never depend on how fast it happens.
 */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`still not so after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
