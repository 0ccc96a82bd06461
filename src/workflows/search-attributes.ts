import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes of every upgrade run; the dev server registers them, a real namespace needs them created once. */
export const CutoverPhase = defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD);
export const CutoverRoutingGroup = defineSearchAttributeKey('CutoverRoutingGroup', SearchAttributeType.KEYWORD);
export const CutoverStrategy = defineSearchAttributeKey('CutoverStrategy', SearchAttributeType.KEYWORD);
export const CutoverTargetVersion = defineSearchAttributeKey('CutoverTargetVersion', SearchAttributeType.KEYWORD);
export const CutoverTrafficPercent = defineSearchAttributeKey('CutoverTrafficPercent', SearchAttributeType.INT);
/** The fleet an upgrade belongs to (its name), set on the fleet's workflow and on each group's upgrade it starts. */
export const CutoverFleet = defineSearchAttributeKey('CutoverFleet', SearchAttributeType.KEYWORD);

export const CUTOVER_SEARCH_ATTRIBUTES = [
  CutoverPhase,
  CutoverRoutingGroup,
  CutoverStrategy,
  CutoverTargetVersion,
  CutoverTrafficPercent,
  CutoverFleet,
] as const;
