import { UpgradeEngine, type UpgradeInput } from './engine';
import type { UpgradeResult } from './messages';
import { canarySteps } from './strategies/canary';

/** Canary upgrade of one routing group: traffic moves to green in weighted steps, each baked under analysis. */
export async function canaryUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  return new UpgradeEngine(input.plan, canarySteps(input.plan), input.startedBy, input.resume).run();
}
