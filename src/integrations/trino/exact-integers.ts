/**
 * Trino writes bigint values as bare JSON integers, which JSON.parse rounds to the nearest double
 * beyond 2^53 (9007199254740993 becomes 9007199254740992). This puts every such integer of a JSON
 * text in quotes, so that it parses to its exact decimal string; safe integers, fractions and
 * exponents, and everything inside strings, are left as they are.
 */
export function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let copiedTo = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i += 1;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i += 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && /[0-9.eE+-]/.test(text[end])) end += 1;
      const token = text.slice(i, end);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copiedTo, i)}"${token}"`;
        copiedTo = end;
      }
      i = end;
    } else {
      i += 1;
    }
  }
  return copiedTo === 0 ? text : out + text.slice(copiedTo);
}
