import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import {
  compensationOptions,
  forwardOptions,
  long,
  provisionDeadlineOf,
  provisioningOptions,
  quick,
  retryBudgetOf,
} from '../activity-options';
import { CONTINUE, type StepKind } from './context';
import { provisionerOf } from './targets';

export type ProvisionStep = { kind: 'provision' };

/** Creates green through the plan's provisioner; a green that already existed is used and never torn down by a rollback. */
export const provision: StepKind<ProvisionStep, 'teardownGreen'> = {
  describe: (_step, names) => `provision ${names.green}`,

  async run(ctx) {
    const { plan } = ctx;
    const green = plan.green.name;
    ctx.setPhase(
      'PROVISIONING',
      `provisioning ${green} (Trino ${plan.green.version}) with the ${plan.green.provisioner.type} provisioner`,
    );
    const before = await quick.inspectGreen.executeWithOptions(
      forwardOptions(`look for ${green}`, retryBudgetOf(plan)),
      [{ provisioner: provisionerOf(ctx), name: green, url: plan.green.url }],
    );
    // Registered before creating, so a rollback during creation still removes what this run made.
    if (!before.present) ctx.registerCompensation({ kind: 'teardownGreen' });
    const deadline = provisionDeadlineOf(plan);
    const cluster = await long.provisionGreen
      .executeWithOptions(provisioningOptions(`provision ${green}`, deadline), [
        {
          provisioner: provisionerOf(ctx),
          name: green,
          version: plan.green.version,
          url: plan.green.url,
          routingGroup: plan.routingGroup,
        },
      ])
      .catch((error: unknown) => {
        if (!(error instanceof ActivityFailure && error.retryState === 'TIMEOUT')) throw error;
        throw ApplicationFailure.nonRetryable(
          `${green} was not provisioned within ${deadline} (green.provisionDeadline): ${innermostMessage(error)}`,
          'ProvisionDeadlineExceeded',
        );
      });
    ctx.facts.greenUrl = cluster.url;
    ctx.status.green.url = cluster.url;
    ctx.note(
      before.present
        ? `${green} already existed at ${cluster.url}; it will not be torn down by a rollback`
        : `${green} created at ${cluster.url}`,
    );
    return CONTINUE;
  },

  compensations: {
    async teardownGreen(ctx) {
      const green = ctx.plan.green.name;
      const result = await long.teardownCluster.executeWithOptions(
        compensationOptions(`tear down ${green}`, ctx.plan.health.interval),
        [{ provisioner: provisionerOf(ctx), name: green, url: ctx.facts.greenUrl }],
      );
      ctx.note(result.deleted ? `${green} torn down` : `${green} was not there to tear down`);
    },
  },
};

/** What the last attempt said: the deepest cause of a timed-out activity (the timeout wraps it). */
function innermostMessage(error: Error): string {
  let inner: Error = error;
  while (inner.cause instanceof Error) inner = inner.cause;
  return inner.message;
}
