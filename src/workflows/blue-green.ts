import { admit } from './admission';
import { UpgradeEngine, type UpgradeInput } from './engine';
import type { UpgradeResult } from './messages';
import { blueGreenSteps } from './strategies/blue-green';

/** Blue/green upgrade of one routing group: provision, verify, approve, shift, bake, drain, keep warm, retire. */
export async function blueGreenUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  const plan = await admit('blue-green', input);
  return new UpgradeEngine(plan, blueGreenSteps(plan), input.startedBy, input.resume, input.fleet).run();
}
