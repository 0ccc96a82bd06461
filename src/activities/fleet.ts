import { ApplicationFailure, getClient, heartbeat, sleep } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { credentialsAllowed, originListed } from '../policy/origins';
import { policyProblems } from '../policy/check-plan';
import type { UpgradePlan } from '../plan/schema';
import { APPROVAL_REFUSED } from '../signing/payload';
import type { UpgradeResult } from '../workflows/messages';
import { checkApproval, type VerifiedApproval, type VerifyApprovalInput } from './approvals';
import type { ActivityDeps, GatewayTarget } from './types';

/** A verb a fleet forwards to the upgrades of its groups, as the single-group verbs send it. */
export type MemberAction = 'approve' | 'pause' | 'resume' | 'rollback' | 'cancel';

export interface ActOnMembersInput {
  action: MemberAction;
  workflowIds: string[];
  /** The verb's input (`{by, reason}` ...); unused by cancel. */
  input?: Record<string, unknown>;
}

/** What each upgrade answered, one line per group ("cutover-etl: approved by alice ..."). */
export interface ActOnMembersResult {
  answers: { workflowId: string; accepted: boolean; message: string }[];
}

/** How a group's upgrade ended, read from Temporal when its own report could not be. */
export interface MemberClosed {
  workflowId: string;
  /** SUCCEEDED / ROLLED_BACK from the upgrade's result; FAILED for any other close (failed, terminated, timed out, cancelled). */
  outcome: 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED';
  reason?: string;
}

/** The gateway's routing groups as a fleet reads them at its start. */
export interface FleetGatewayGroups {
  groups: string[];
  /** The names of each group's active backends, sorted (a group with none is absent). */
  active: Record<string, string[]>;
}

const MEMBER_POLL_MS = 5_000;

/** The worker's side of fleets: the gateway's groups, the policy check of every group, and the verbs forwarded to the groups' upgrades. */
export function fleetActivities(deps: ActivityDeps) {
  return {
    /**
     * The distinct routing groups of the gateway's backends, sorted, with the active backends of
     * each; refused when the policy does not allow the gateway.
     */
    async fleetGatewayGroups(input: { gateway: GatewayTarget }): Promise<FleetGatewayGroups> {
      const policy = deps.policy();
      const { url } = input.gateway;
      if (policy && !originListed(url, policy.gateways))
        throw ApplicationFailure.nonRetryable(
          `gateway.url: ${new URL(url).origin} is not a gateway this worker may use (policy gateways: ${policy.gateways.join(', ')})`,
          'PlanRefused',
        );
      if (policy && !credentialsAllowed(url, policy, policy.gateways))
        throw ApplicationFailure.nonRetryable(
          `gateway.url: ${new URL(url).host} is plain http: the worker sends its gateway credentials only over https, or to a host the policy lists in plainHttpHosts`,
          'PlanRefused',
        );
      const backends = await deps.gateway(input.gateway).listBackends();
      const active: Record<string, string[]> = {};
      for (const backend of backends) if (backend.active) (active[backend.routingGroup] ??= []).push(backend.name);
      for (const names of Object.values(active)) names.sort();
      return { groups: [...new Set(backends.map((backend) => backend.routingGroup))].sort(), active };
    },

    /** The worker policy's problems with every group's plan, each prefixed with the group: nothing starts unless all are empty. */
    async checkFleetRuns(input: { plans: UpgradePlan[] }): Promise<{ problems: string[]; policy: 'none' | 'file' }> {
      const policy = deps.policy();
      const problems = input.plans.flatMap((plan) =>
        policyProblems(plan, policy).map((problem) => `${plan.routingGroup}: ${problem}`),
      );
      return { problems, policy: policy ? 'file' : 'none' };
    },

    /**
     * Checks the approval of a fleet's gate as verifyApproval checks an upgrade's, for every routing
     * group of the wave it opens: the approver must be allowed on each of them.
     */
    async verifyFleetApproval(input: VerifyApprovalInput & { routingGroups: string[] }): Promise<VerifiedApproval> {
      let verified: VerifiedApproval = { approver: input.by };
      for (const routingGroup of input.routingGroups) {
        const verdict = checkApproval(deps.policy(), { ...input, routingGroup }, Date.now());
        if ('refused' in verdict) throw ApplicationFailure.nonRetryable(verdict.refused, APPROVAL_REFUSED);
        verified = verdict;
      }
      return verified;
    },

    /**
     * Sends a fleet verb to its groups' upgrades through the worker's Temporal client, as
     * `cutover approve|pause|resume|rollback|cancel` would (updates, so each answer is known).
     * Idempotent: an upgrade answers a repeated request by ignoring it, and one that has ended is
     * reported as such.
     */
    async forwardToMembers(input: ActOnMembersInput): Promise<ActOnMembersResult> {
      const client = getClient();
      const answers = await Promise.all(
        input.workflowIds.map(async (workflowId) => {
          try {
            const handle = client.workflow.getHandle(workflowId);
            if (input.action === 'cancel') {
              await handle.cancel();
              return { workflowId, accepted: true, message: 'cancel requested: it rolls back' };
            }
            const ack = await handle.executeUpdate<{ message: string }, [Record<string, unknown>]>(input.action, {
              args: [input.input ?? {}],
            });
            return { workflowId, accepted: !ack.message.startsWith('ignored'), message: ack.message };
          } catch (error) {
            return { workflowId, accepted: false, message: answerOf(error) };
          }
        }),
      );
      return { answers };
    },

    /**
     * Waits, heartbeating, until at least one upgrade of `workflowIds` has closed, and says how
     * each closed one ended. Used only for upgrades a fleet started in an earlier run (continue-as-new), whose
     * reports are the fleet's only other news of them: one terminated by hand would never report.
     */
    async awaitMembersClosed(input: { workflowIds: string[] }): Promise<MemberClosed[]> {
      const client = getClient();
      for (;;) {
        const closed: MemberClosed[] = [];
        for (const workflowId of input.workflowIds) {
          const entry = await closedMember(client, workflowId);
          if (entry) closed.push(entry);
        }
        if (closed.length > 0) return closed;
        heartbeat();
        await sleep(MEMBER_POLL_MS);
      }
    },
  };
}

async function closedMember(client: Client, workflowId: string): Promise<MemberClosed | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      return { workflowId, outcome: 'FAILED', reason: 'its workflow is gone' };
    throw error;
  }
  if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') return undefined;
  if (status !== 'COMPLETED') return { workflowId, outcome: 'FAILED', reason: `its workflow ended ${status}` };
  const result = (await handle.result()) as UpgradeResult;
  return { workflowId, outcome: result.outcome, reason: result.reason };
}

function answerOf(error: unknown): string {
  if (error instanceof WorkflowNotFoundError) return 'no such upgrade is running';
  const cause = (error as { cause?: unknown }).cause;
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return `refused: ${message}`;
}
