import { backendPool } from './backend-pool';
import { routingRule } from './routing-rule';
import type { TrafficMode } from './types';

/** Every traffic mode by the name a plan gives it (`canary.traffic`); the first is the default. */
export const TRAFFIC_MODES = {
  'routing-rule': routingRule,
  'backend-pool': backendPool,
} as const satisfies Record<string, TrafficMode>;

export type TrafficModeName = keyof typeof TRAFFIC_MODES;

export const TRAFFIC_MODE_NAMES = Object.keys(TRAFFIC_MODES) as [TrafficModeName, ...TrafficModeName[]];

/** The mode a plan names; the only place that picks an implementation by name. */
export function trafficMode(name: TrafficModeName): TrafficMode {
  return TRAFFIC_MODES[name];
}

export type { AppliedWeight, CanarySettings, TrafficMode, TrafficRouter } from './types';
