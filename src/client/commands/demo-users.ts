export const DEMO_USERS = 60;

/**
 * The demos' query users: names whose Java hash codes spread over the buckets. Names that differ
 * only in their last character (user-0, user-1, ...) fall into neighbouring buckets, and a 10%
 * canary would get none.
 */
export const DEMO_USER_NAMES = Array.from(
  { length: DEMO_USERS },
  (_, i) => `analyst-${((i * 2654435761) >>> 0).toString(36)}`,
);
