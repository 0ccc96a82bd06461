import { admit } from './admission';
import { UpgradeEngine, type UpgradeInput } from './engine';
import type { UpgradeResult } from './messages';
import { canarySteps } from './strategies/canary';

/** Canary upgrade of one routing group: traffic moves to green in weighted steps, each baked under analysis. */
export async function canaryUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  const plan = await admit('canary', input);
  return new UpgradeEngine(plan, canarySteps(plan), input.startedBy, input.resume, input.fleet).run();
}
