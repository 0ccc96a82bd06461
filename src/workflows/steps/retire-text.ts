import type { UpgradePlan } from '../../plan/schema';
import { namesWith } from './context';

/** True when the retire deletes blue's clusters: teardown is on and the provisioner can delete (static cannot). */
export function deletesClusters(plan: UpgradePlan): boolean {
  return plan.retire.teardown && plan.green.provisioner.type !== 'static';
}

/** Why blue's clusters stay up, or undefined when the retire deletes them. */
function keptBecause(plan: UpgradePlan, names: string[]): string | undefined {
  if (!plan.retire.teardown) return 'retire.teardown is false';
  if (plan.green.provisioner.type === 'static') {
    const them = names.length === 1 ? 'it' : 'them';
    return `the static provisioner deletes no cluster; stop ${them} yourself once ${them} ${names.length === 1 ? 'is' : 'are'} no longer needed`;
  }
  return undefined;
}

/** What the retire is about to do to blue: the gateway entries always, the clusters only when it can delete them. */
export function retireIntent(plan: UpgradePlan, names: string[]): string {
  const removing = `removing ${names.join(', ') || 'blue'} from the gateway`;
  const kept = keptBecause(plan, names);
  if (kept) return `${removing}; ${namesWith(names, 'keeps', 'keep')} running (${kept})`;
  return `${removing} and deleting ${names.length === 1 ? 'its cluster' : 'their clusters'} with the ${plan.green.provisioner.type} provisioner`;
}

/** What the retire did: which of blue left the gateway, whose cluster was deleted, and which keeps running. */
export function retireOutcome(plan: UpgradePlan, names: string[], deleted: string[]): string {
  const removed = `removed ${names.join(', ') || 'blue'} from the gateway`;
  const kept = keptBecause(plan, names);
  if (kept) return `${removed}; ${namesWith(names, 'keeps', 'keep')} running (${kept})`;
  const absent = names.filter((name) => !deleted.includes(name));
  return [
    removed,
    ...(deleted.length ? [`deleted the cluster${deleted.length === 1 ? '' : 's'} of ${deleted.join(', ')}`] : []),
    ...(absent.length
      ? [`the ${plan.green.provisioner.type} provisioner found no cluster of ${absent.join(', ')} to delete`]
      : []),
  ].join('; ');
}
