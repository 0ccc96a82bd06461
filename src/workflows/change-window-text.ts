import type { ChangeWindowStatus } from './messages';

/** The `step` of an upgrade that the window's close paused (`onWindowClose: pause`) and its opening resumes. */
export const RESUME = 'resume';

/**
 * How status, watch and the Temporal UI word the change window: "waiting for the change window:
 * shift 25% to trino-green opens Tue 22:00 Europe/Berlin (in 3 h 12 min); outside the change window
 * ...". `now` is the reader's clock; without it (the UI's details, which stay as rendered) the
 * instant is given in UTC instead of as a time from now.
 */
export function changeWindowText(window: ChangeWindowStatus, now?: number): string {
  const from = (iso: string) =>
    now === undefined ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : inWords(Date.parse(iso) - now);
  if (window.state === 'open') {
    if (!window.closesAtText) return `the change window is open for ${window.step}`;
    const until = window.closesBy ? ` (${from(window.closesBy)})` : '';
    const then = window.onClose === 'pause' ? 'then the upgrade pauses' : 'then no further step moves traffic';
    return `the change window is open until ${window.closesAtText}${until}; ${then}`;
  }
  const when = window.opensAtText
    ? `opens ${window.opensAtText}${window.until ? ` (${from(window.until)})` : ''}`
    : 'does not open within a year (checked again later)';
  const what = window.step === RESUME ? 'the paused upgrade resumes when it' : window.step;
  return `waiting for the change window: ${what} ${when}; ${window.reason ?? 'closed'}`;
}

/** "in 3 h 12 min", "in 45 s", "in 2 d 1 h"; "now" once due. */
export function inWords(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return 'now';
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  const days = Math.floor(hours / 24);
  return `in ${days} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}
