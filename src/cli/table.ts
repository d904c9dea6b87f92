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
