/**
 * What the CLI does only for a person at a terminal, in one place: progress lines and
 * colours on stderr. Both need stderr to be a terminal; progress is also off with
 * --json, colours also off when NO_COLOR is set to anything but "" (no-color.org).
 * Nothing here ever reaches stdout, so what a script reads is the same everywhere.
 */
import type { Io } from './context';

const ESC = '\u001b[';

export interface Terminal {
  /** `text` in red (failures), when colours are on. */
  red(text: string): string;
  /** `text` in green (success), when colours are on. */
  green(text: string): string;
  /** `text` in yellow (warnings), when colours are on. */
  yellow(text: string): string;
  /** Shows `step` in place of the previous one (nothing off a terminal). */
  progress(step: string): void;
  /** Clears the progress line, before the command's own output. */
  clearProgress(): void;
}

function paint(on: boolean, code: number): (text: string) => string {
  return on ? (text) => `${ESC}${code}m${text}${ESC}0m` : (text) => text;
}

/** The terminal behaviour for `io`; `json` turns progress off. */
export function terminal(io: Io, opts: { json?: boolean } = {}): Terminal {
  const tty = io.errIsTty === true;
  const colour = tty && (io.env.NO_COLOR ?? '') === '';
  const showProgress = tty && opts.json !== true;
  let shown = false;
  // A terminal that does not say its width (0) is taken as 80 columns.
  const width = (io.errColumns ?? 0) > 20 ? (io.errColumns ?? 0) - 1 : 79;
  return {
    red: paint(colour, 31),
    green: paint(colour, 32),
    yellow: paint(colour, 33),
    progress(step) {
      if (!showProgress) return;
      const line = step.length > width ? `${step.slice(0, width - 1)}…` : step;
      io.errRaw?.(`\r${ESC}2K${line}`);
      shown = true;
    },
    clearProgress() {
      if (!shown) return;
      io.errRaw?.(`\r${ESC}2K`);
      shown = false;
    },
  };
}
