import { randomInt } from 'node:crypto';

/** Trino's QueryIdGenerator alphabet: base 32 without the look-alikes l, o, 0 and 1. */
const BASE_32 = 'abcdefghijkmnpqrstuvwxyz23456789';
const MAX_COUNTER = 99_999;

/** Query ids shaped like Trino's: `20261125_105315_00001_ab2cd` (UTC time, counter, coordinator suffix). */
export class QueryIdGenerator {
  /** Random per coordinator start, as in Trino, so ids never repeat across restarts. */
  readonly coordinatorId = Array.from({ length: 5 }, () => BASE_32[randomInt(BASE_32.length)]).join('');
  private counter = 0;
  private day = '';

  /** The next id. */
  next(now = new Date()): string {
    const iso = now.toISOString();
    const day = iso.slice(0, 10).replaceAll('-', '');
    if (day !== this.day || this.counter > MAX_COUNTER) {
      this.day = day;
      this.counter = 0;
    }
    const time = iso.slice(11, 19).replaceAll(':', '');
    const counter = String(this.counter++).padStart(5, '0');
    return `${day}_${time}_${counter}_${this.coordinatorId}`;
  }
}
