import { ApplicationFailure } from '@temporalio/workflow';
import { needsRequestAnalyzer } from '../../integrations/traffic/selector';
import { preflightChecksQueryVisibility, quick, workerValidatesRuns } from '../activity-options';
import { claimOwnership } from '../ownership';
import { CONTINUE, type StepContext, type StepOutcome } from './context';
import { canaryOf, gatewayOf, hasSeparateCanaryEntry } from './targets';

/** How long the preflight retries an unreachable gateway before the upgrade fails. */
const PREFLIGHT_BUDGET = '1m';

/** Reads blue from the gateway before anything changes; nothing to undo, so not a step of the list. */
export const preflight = {
  describe: (ctx: StepContext) => `preflight: read routing group ${ctx.plan.routingGroup} from the gateway`,

  async run(ctx: StepContext): Promise<StepOutcome> {
    const { plan, status, facts } = ctx;
    if (workerValidatesRuns()) {
      const verdict = await quick.checkRun.executeWithOptions(
        { summary: 'check the plan against the worker policy', scheduleToCloseTimeout: PREFLIGHT_BUDGET },
        [{ plan }],
      );
      if (verdict.problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `the worker policy refuses this plan:\n${verdict.problems.map((problem) => `  - ${problem}`).join('\n')}`,
          'PlanRefused',
        );
      }
    }
    await claimOwnership(ctx);
    // Nothing has changed yet: an unreachable gateway fails the upgrade within a minute instead of hanging.
    const found = await quick.inspectGateway.executeWithOptions(
      { summary: `inspect routing group ${plan.routingGroup}`, scheduleToCloseTimeout: PREFLIGHT_BUDGET },
      [
        {
          gateway: gatewayOf(ctx),
          routingGroup: plan.routingGroup,
          blue: plan.blue?.backends,
          green: plan.green.name,
          greenUrl: plan.green.url,
          canary: hasSeparateCanaryEntry(ctx)
            ? {
                group: canaryOf(ctx).canaryGroup,
                entry: canaryOf(ctx).entry,
                rule: canaryOf(ctx).ruleName,
                defaultRoutingGroup: canaryOf(ctx).defaultRoutingGroup,
                // Only for selectors reading the query's shape: inputs of other plans stay as they were.
                ...(needsRequestAnalyzer(plan.canary?.selector) ? { requestAnalyzer: true } : {}),
              }
            : undefined,
        },
      ],
    );
    facts.blue = found.blue;
    status.blue = found.blue.map((backend) => backend.name);
    status.blueVersion = found.blueVersion;
    ctx.refreshStepDescriptions();
    ctx.note(`blue: ${status.blue.join(', ')}${found.blueVersion ? ` (Trino ${found.blueVersion})` : ''}`);
    // The drain counts blue's queries as cutover's Trino user: refuse now if access control hides some of them.
    if (preflightChecksQueryVisibility()) {
      await quick.checkQueryVisibility.executeWithOptions(
        {
          summary: `check that cutover sees every query on ${status.blue.join(', ')}`,
          scheduleToCloseTimeout: PREFLIGHT_BUDGET,
        },
        [{ backends: facts.blue }],
      );
    }
    return CONTINUE;
  },
};
