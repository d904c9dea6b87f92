/**
 * A bench helper process forked from dist/bench/bench/, one task at a time over IPC:
 * each task is answered with `{ ok: true, result }` or `{ ok: false, error }`. Every
 * one still alive is killed when the bench exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of alive) c.kill('SIGKILL');
});

type Reply<R> = { ok: true; result: R } | { ok: false; error: string };

export class Forked<Task, Result> {
  readonly child: ChildProcess;
  private waiting?: { res: (v: Result) => void; rej: (e: Error) => void };

  constructor(
    private readonly module: string,
    env?: NodeJS.ProcessEnv,
  ) {
    this.child = fork(join(__dirname, module), [], {
      ...(env ? { env } : {}),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    alive.add(this.child);
    this.child.on('message', (m: Reply<Result>) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if (m.ok) w.res(m.result);
      else w.rej(new Error(`${this.module}: ${m.error}`));
    });
    this.child.once('exit', (code) => {
      alive.delete(this.child);
      this.waiting?.rej(new Error(`${this.module} exited with ${String(code)}`));
      this.waiting = undefined;
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  run(task: Task): Promise<Result> {
    if (this.waiting) return Promise.reject(new Error(`${this.module} busy`));
    return new Promise((res, rej) => {
      this.waiting = { res, rej };
      this.child.send(task as object);
    });
  }

  /** Disconnects (each of ours exits on that); SIGKILL if it is still there in 2 s. */
  close(): void {
    if (this.child.connected) this.child.disconnect();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
    }
  }
}
