/** `1 smoke query`, `2 smoke queries`: a count with its noun in the right number (the plural defaults to noun + "s"). */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
