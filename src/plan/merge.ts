/** A partial plan document (or any JSON object) to lay over another. */
export type Overrides = Record<string, unknown>;

/** `extra` laid over `base`, objects merged key by key (arrays and values replaced). */
export function merge(base: Overrides, extra: Overrides): Overrides {
  const out: Overrides = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current &&
      typeof current === 'object' &&
      !Array.isArray(current)
        ? merge(current as Overrides, value as Overrides)
        : value;
  }
  return out;
}
