import { UpgradeEngine, type UpgradeInput } from './engine';
import type { UpgradeResult } from './messages';
import { blueGreenSteps } from './strategies/blue-green';

/** Blue/green upgrade of one routing group: provision, verify, approve, flip, bake, drain, keep warm, retire. */
export async function blueGreenUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  return new UpgradeEngine(input.plan, blueGreenSteps(input.plan), input.startedBy, input.resume).run();
}
