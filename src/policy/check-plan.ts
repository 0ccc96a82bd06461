import { durationMs } from '../plan/duration';
import type { UpgradePlan } from '../plan/schema';
import { credentialsAllowed, originListed } from './origins';
import { DEFAULT_BOUNDS, type WorkerPolicy } from './schema';

/**
 * What a worker's policy refuses in a plan, one line per problem, each naming the plan's field.
 * Without a policy only the default bounds apply (and no credentials are sent anywhere).
 */
export function policyProblems(plan: UpgradePlan, policy: WorkerPolicy | undefined): string[] {
  const problems: string[] = [];
  const bounds = policy?.bounds ?? DEFAULT_BOUNDS;
  const refuse = (field: string, message: string) => problems.push(`${field}: ${message}`);

  // The replicas get the same credentials as the gateway's URL, so the same allow-list applies to each.
  const gateways: [string, string][] = [
    ['gateway.url', plan.gateway.url],
    ...(plan.gateway.replicas ?? []).map((url, index): [string, string] => [`gateway.replicas[${index}]`, url]),
  ];
  for (const [field, url] of gateways) {
    if (policy && !originListed(url, policy.gateways)) {
      refuse(
        field,
        `${new URL(url).origin} is not a gateway this worker may use (policy gateways: ${policy.gateways.join(', ')})`,
      );
    } else if (policy && !credentialsAllowed(url, policy, policy.gateways)) {
      refuse(
        field,
        `${new URL(url).host} is plain http: the worker sends its gateway credentials only over https, or to a host the policy lists in plainHttpHosts`,
      );
    }
  }

  const provisioner = plan.green.provisioner;
  if (
    policy &&
    (provisioner.type === 'sandbox' || provisioner.type === 'static') &&
    !policy.provisioners[provisioner.type]
  ) {
    refuse(
      'green.provisioner.type',
      `${provisioner.type} is not allowed by this worker's policy (provisioners.${provisioner.type}: false)`,
    );
  }

  const minInterval = durationMs(bounds.minInterval);
  const intervals: [string, string | undefined][] = [
    ['health.interval', plan.health.interval],
    ['drain.interval', plan.drain.interval],
    ['canary.analysis.interval', plan.canary?.analysis.interval],
    ['analysis.interval', plan.analysis?.interval],
  ];
  for (const [field, value] of intervals) {
    if (value !== undefined && durationMs(value) < minInterval)
      refuse(field, `must be at least ${bounds.minInterval} (the worker policy's bounds.minInterval)`);
  }

  const maxWait = durationMs(bounds.maxWait);
  const waits: [string, string | undefined][] = [
    ['health.timeout', plan.health.timeout],
    ['approval.timeout', plan.approval.timeout],
    ['drain.timeout', plan.drain.timeout],
    ['drain.resultGrace', plan.drain.resultGrace],
    ['bake', plan.bake],
    ['retire.keepBlueFor', plan.retire.keepBlueFor],
    ['gateway.retryBudget', plan.gateway.retryBudget],
    ['green.provisionDeadline', plan.green.provisionDeadline],
    ['shadow.timeout', plan.shadow?.timeout],
    ...(plan.canary?.steps ?? []).map((step, index): [string, string | undefined] => [
      `canary.steps[${index}].bake`,
      step.bake,
    ]),
  ];
  for (const [field, value] of waits) {
    if (value !== undefined && durationMs(value) > maxWait)
      refuse(field, `must be at most ${bounds.maxWait} (the worker policy's bounds.maxWait)`);
  }

  if (plan.health.smokeQueries.length > bounds.maxSmokeQueries) {
    refuse(
      'health.smokeQueries',
      `has ${plan.health.smokeQueries.length} queries; the worker policy allows at most ${bounds.maxSmokeQueries}`,
    );
  }

  if (plan.canary?.selector?.userPattern !== undefined && !bounds.allowUserPatterns) {
    refuse(
      'canary.selector.userPattern',
      'the worker policy does not allow user patterns (a regular expression the gateway runs on every request); list the users, or set bounds.allowUserPatterns: true in the policy',
    );
  }
  if (plan.canary) {
    let previous = 0;
    plan.canary.steps.forEach((step, index) => {
      if (step.weight === undefined) return;
      if (step.weight - previous > bounds.maxWeightStep) {
        refuse(
          `canary.steps[${index}].weight`,
          `moves ${step.weight - previous} points at once (${previous}% to ${step.weight}%); the worker policy allows at most ${bounds.maxWeightStep}`,
        );
      }
      previous = step.weight;
    });
  }
  for (const [prefix, analysis] of [
    ['canary.analysis', plan.canary?.analysis],
    ['analysis', plan.analysis],
  ] as const) {
    if (!analysis) continue;
    if (analysis.maxErrorRate > bounds.maxErrorRate) {
      refuse(
        `${prefix}.maxErrorRate`,
        `must be at most ${bounds.maxErrorRate} (the worker policy's bounds.maxErrorRate)`,
      );
    }
    if (analysis.maxConsecutiveFailures > bounds.maxConsecutiveFailures) {
      refuse(
        `${prefix}.maxConsecutiveFailures`,
        `must be at most ${bounds.maxConsecutiveFailures} (the worker policy's bounds.maxConsecutiveFailures)`,
      );
    }
  }
  if (plan.health.maxConsecutiveFailures > bounds.maxConsecutiveFailures) {
    refuse(
      'health.maxConsecutiveFailures',
      `must be at most ${bounds.maxConsecutiveFailures} (the worker policy's bounds.maxConsecutiveFailures)`,
    );
  }

  const shadow = plan.shadow;
  if (shadow && shadow.concurrency > bounds.maxShadowConcurrency)
    refuse(
      'shadow.concurrency',
      `must be at most ${bounds.maxShadowConcurrency} (the worker policy's bounds.maxShadowConcurrency)`,
    );
  if (shadow && shadow.sample > bounds.maxShadowQueries)
    refuse('shadow.sample', `must be at most ${bounds.maxShadowQueries} (the worker policy's bounds.maxShadowQueries)`);
  if (shadow?.queryFile !== undefined && policy?.shadow.queryDirectory === undefined)
    refuse(
      'shadow.queryFile',
      'the worker policy allows no query files (set shadow.queryDirectory in the policy to the directory they are read from); list the queries in shadow.queries instead',
    );

  const approvers = policy?.approvers.map((approver) => approver.name) ?? [];
  if (approvers.length > 0) {
    const unknown = (plan.approval.approvers ?? []).filter((name) => !approvers.includes(name));
    if (unknown.length > 0) {
      refuse(
        'approval.approvers',
        `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not an approver in the worker policy; a plan can only narrow the policy's approvers (${approvers.join(', ')})`,
      );
    }
  }
  return problems;
}
