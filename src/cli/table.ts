/** Plain-text tables laid out as the notary CLI lays them out (Go tabwriter, padding 4). */

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, header.map((h) => '-'.repeat(h.length)), ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  return all
    .map((r) =>
      r
        .map((cell, i) =>
          i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length + 4),
        )
        .join(''),
    )
    .join('\n');
}

/** What a token table shows of each token (the daemon's and the admin commands' views alike). */
export interface TokenRow {
  readonly name: string;
  readonly profile: string;
  readonly present: boolean;
  readonly label?: string;
  readonly serial?: string;
  readonly pinState?: string;
}

/** Tokens as `tokens` prints them: name, profile, presence, label, serial, PIN state. */
export function tokensTable(tokens: readonly TokenRow[]): string {
  return table(
    ['NAME', 'PROFILE', 'PRESENT', 'LABEL', 'SERIAL', 'PIN'],
    tokens.map((t) => [
      t.name,
      t.profile,
      t.present ? 'yes' : 'no',
      t.label ?? '-',
      t.serial ?? '-',
      t.pinState ?? '-',
    ]),
  );
}
