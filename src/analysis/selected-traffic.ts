import type { QuerySummary } from '../integrations/trino/types';
import { describeSelector, inTimeWindow, type CanarySelector } from '../integrations/traffic/selector';

/** Which of blue's queries are of the canary's selected traffic, and how that reads in the status. */
export interface BlueSelection {
  matches: (query: QuerySummary) => boolean;
  /** `its SELECT queries from superset`, and what could not be selected and why. */
  words: string;
}

/**
 * Blue's share of the selected traffic, to judge green by (like with like): blue's queries of the
 * same users, source, client tags, query types and time of day, from what `/v1/query` carries of
 * each query (session user, source and client tags, query type, create time). The catalogs and
 * schemas a query reads are not in it: blue is then compared on the rest, and the words say so.
 */
export function blueSelection(selector: CanarySelector): BlueSelection {
  const { catalogs, schemas, ...readable } = selector;
  const pattern = selector.userPattern === undefined ? undefined : new RegExp(`^(?:${selector.userPattern})$`, 'u');
  const matches = (query: QuerySummary): boolean => {
    if (selector.users && !selector.users.includes(query.user ?? '')) return false;
    if (pattern && !pattern.test(query.user ?? '')) return false;
    const source = query.source;
    if (selector.source?.include && (source === undefined || !selector.source.include.includes(source))) return false;
    if (selector.source?.exclude && source !== undefined && selector.source.exclude.includes(source)) return false;
    if (selector.clientTags && !selector.clientTags.every((tag) => query.clientTags?.includes(tag))) return false;
    if (selector.queryTypes && !selector.queryTypes.some((type) => type === query.queryType)) return false;
    if (selector.timeWindow) {
      const created = query.createTime === undefined ? Number.NaN : Date.parse(query.createTime);
      if (!Number.isFinite(created) || !inTimeWindow(selector.timeWindow, created)) return false;
    }
    return true;
  };
  const unread = [catalogs && 'catalogs', schemas && 'schemas'].filter((what) => typeof what === 'string');
  const selected = Object.keys(readable).length > 0 ? `its ${describeSelector(readable)}` : 'all its traffic';
  const words =
    unread.length > 0
      ? `blue compared on ${selected}: /v1/query does not carry the ${unread.join(' and ')} a query reads`
      : `blue compared on the same selected traffic: ${selected}`;
  return { matches, words };
}
