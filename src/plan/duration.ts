import { msToNumber } from '@temporalio/common/lib/time';

/** Milliseconds of a plan duration (`30s`, `10m`, `2h`); safe to call from workflow code. */
export function durationMs(value: string): number {
  return msToNumber(value as Parameters<typeof msToNumber>[0]);
}
