/**
 * Redaction and caps for text that comes from outside (response bodies, command output) on its
 * way into errors, heartbeats, logs and history.
 */

const HIDDEN = '[redacted]';

/**
 * Key names whose values are secrets: `password=`, `"api_key": "..."`, `X-Auth-Token: ...`. Anchored
 * at the start of a name and bounded, so a long run of letters costs linear time.
 */
const SECRET_KEY = String.raw`(?<![\w.-])[\w.-]{0,40}?(?:passw(?:or)?d|pwd|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]{0,40}`;
/** A value after `=` or `:`: quoted, or up to a space, `&`, `,`, `;` or a closing bracket or quote. */
const VALUE = String.raw`(?:"(?:[^"\\\r\n]|\\.)*"|'[^'\r\n]*'|[^\s&,;"'}\])]+)`;

const RULES: readonly [RegExp, (match: string, ...groups: string[]) => string][] = [
  // PEM private keys, whole.
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, () => HIDDEN],
  // Authorization / Proxy-Authorization / Cookie / Set-Cookie headers, as header lines or JSON keys: the whole value.
  [
    /\b((?:proxy-)?authorization|(?:set-)?cookie)(["']?\s*[:=]\s*)("[^"\r\n]*"|'[^'\r\n]*'|[^\r\n"']+)/gi,
    (_match, name: string, separator: string, value: string) => `${name}${separator}${quoted(value)}`,
  ],
  // Tokens after an auth scheme, wherever they appear ("Basic authentication" is prose, not a token).
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{6,}/gi, () => `Bearer ${HIDDEN}`],
  [
    /\bBasic\s+([A-Za-z0-9+/]{6,}={0,2})/gi,
    (match, token: string) => (/[0-9+/=]|.[A-Z]/.test(token) ? `Basic ${HIDDEN}` : match),
  ],
  // JSON web tokens.
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, () => HIDDEN],
  // URL user info: scheme://user:password@host.
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"']+@/gi, (_match, scheme: string) => `${scheme}${HIDDEN}@`],
  // key=value and "key": "value" pairs whose key names a secret.
  [
    new RegExp(String.raw`(${SECRET_KEY})(["']?\s*[:=]\s*)(${VALUE})`, 'gi'),
    (_match, key: string, separator: string, value: string) => `${key}${separator}${quoted(value)}`,
  ],
];

/** The placeholder in the quotes the original value had. */
function quoted(value: string): string {
  const quote = value[0] === '"' || value[0] === "'" ? value[0] : '';
  return `${quote}${HIDDEN}${quote}`;
}

/**
 * `text` without secrets: Authorization and Proxy-Authorization values, cookies, bearer and basic
 * tokens, JSON web tokens, private keys, URL user info and `password=`/`token=`/`secret=` style values.
 */
export function redact(text: string): string {
  return RULES.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/** `text` cut to `max` characters, with a marker saying how much was left out. */
export function cap(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}

/** Outside text for one line of a message: redacted, whitespace folded, capped. */
export function excerptOf(text: string, max: number): string {
  return cap(redact(text).replace(/\s+/g, ' ').trim(), max);
}
