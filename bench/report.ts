/** One row of the final table. */
export interface Row {
  row: string;
  measured: string;
  target: string;
  /** undefined: informational, no target to meet. */
  met: boolean | undefined;
  /** Why a target was missed, or how to read the figure. */
  note?: string;
}

/** Renders a plain-text table with aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function out(text = ''): void {
  process.stdout.write(`${text}\n`);
}
