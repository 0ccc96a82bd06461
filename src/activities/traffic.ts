import { ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import type { GatewayApi, GatewayBackend, RoutingRule } from '../integrations/gateway/types';
import { GATEWAY_DEFAULT_ROUTING_GROUP, misplacedCanaryRule, ruleNotFound } from '../integrations/traffic/routing-rule';
import { durationMs } from '../plan/duration';
import { assertOwned, foreignBackend, mismatchOf } from './backend-ownership';
import { pollUntil } from './poll';
import { progressFor, withProvisioner } from './provisioning';
import { replicasOf, unhealthyOnReplicas } from './replicas';
import { checkRequestAnalyzer } from './request-analyzer';
import { ensureNoQueryRuns, refuseSharedClusters } from './retire-checks';
import type {
  ActivityDeps,
  ShiftTrafficInput,
  InspectGatewayInput,
  InspectGatewayResult,
  RegisterGreenInput,
  ReadRoutingGroupInput,
  RemoveBackendInput,
  RemoveBackendResult,
  RetireInput,
  RoutingGroupState,
} from './types';

/** Activities that change what the gateway routes. Each one is idempotent: re-running it changes nothing twice. */
export function trafficActivities(deps: ActivityDeps) {
  return {
    /** Reads blue from the gateway before anything changes: the plan's backends, or every active one of the group. */
    async inspectGateway(input: InspectGatewayInput): Promise<InspectGatewayResult> {
      const gateway = deps.gateway(input.gateway);
      const all = await gateway.listBackends();
      const inGroup = all.filter((backend) => backend.routingGroup === input.routingGroup);
      const green = all.find((backend) => backend.name === input.green);
      if (green) {
        const mismatch = mismatchOf(green, {
          routingGroup: input.routingGroup,
          proxyTo: input.greenUrl,
          addressOf: "green's address",
        });
        if (mismatch) {
          throw foreignBackend(
            green.name,
            mismatch,
            'overwrite',
            green.routingGroup === input.routingGroup
              ? 'if an earlier upgrade left it, remove it from the gateway, else pick another green name'
              : 'pick another green name',
          );
        }
      }
      const blue = input.blue
        ? input.blue.map((name) => {
            const backend = all.find((candidate) => candidate.name === name);
            if (!backend)
              throw ApplicationFailure.nonRetryable(
                `blue backend ${name} is not registered in the gateway at ${input.gateway.url}`,
                'BlueNotFound',
              );
            if (backend.routingGroup !== input.routingGroup) {
              throw ApplicationFailure.nonRetryable(
                `blue backend ${name} is in routing group ${backend.routingGroup}, not ${input.routingGroup}`,
                'BlueNotInGroup',
              );
            }
            return backend;
          })
        : inGroup.filter((backend) => backend.active && backend.name !== input.green);
      const greenServes = green?.active === true;
      if (!blue.some((backend) => backend.active)) {
        if (greenServes && inGroup.filter((backend) => backend.active).length === 1)
          throw greenAlreadyServes(input.routingGroup, input.green, input.blue ?? othersOf(inGroup, input.green));
        throw ApplicationFailure.nonRetryable(
          `routing group ${input.routingGroup} has no active backend to upgrade (backends: ${inGroup.map((b) => b.name).join(', ') || 'none'})`,
          'NoActiveBlue',
        );
      }
      if (greenServes) {
        const serving = blue.filter((backend) => backend.active).map((backend) => backend.name);
        throw ApplicationFailure.nonRetryable(
          `${input.green}, this plan's green, is already active in ${input.routingGroup} beside ${serving.join(', ')}: an earlier upgrade stopped between activating green and deactivating blue. ` +
            `To finish, deactivate ${serving.join(', ')} by hand and retire ${serving.length === 1 ? 'it' : 'them'}; to undo, deactivate ${input.green}, then start again`,
          'GreenAlreadyActive',
        );
      }
      const canary = input.canary;
      if (canary) checkCanaryEntry(all, canary);
      if (canary?.requestAnalyzer)
        await checkRequestAnalyzer(
          deps.trino(input.gateway.url),
          input.gateway.url,
          input.routingGroup,
          durationMs(input.gateway.requestTimeout),
        );
      const squatters = canary
        ? all.filter((b) => b.routingGroup === canary.group && b.name !== canary.entry && b.active)
        : [];
      if (canary && squatters.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `canary group ${canary.group} already serves traffic (active: ${squatters.map((b) => b.name).join(', ')}): canary users would be mixed with its own; set canary.canaryGroup to a group of its own`,
          'CanaryGroupInUse',
        );
      }
      if (canary?.rule) {
        // Checked last, before anything is provisioned: the first shift would otherwise find it missing.
        const rules = await gateway.getRoutingRules();
        if (!rules.some((rule) => rule.name === canary.rule))
          throw ruleNotFound(canary.rule, canary.group, rules, {
            routingGroup: input.routingGroup,
            defaultRoutingGroup: canary.defaultRoutingGroup ?? GATEWAY_DEFAULT_ROUTING_GROUP,
          });
        refuseMisplacedRule(canary.rule, rules, input.gateway.url);
      }
      await checkReplicas(deps, input, blue);
      const version = await deps
        .trino(blue[0].proxyTo)
        .info()
        .then(
          (info) => info.nodeVersion.version,
          () => undefined,
        );
      return { blue: blue.map(({ name, proxyTo }) => ({ name, proxyTo })), blueVersion: version };
    },

    /** Registers green inactive in the routing group, so the gateway health-checks it before it gets traffic. */
    async registerGreen(input: RegisterGreenInput): Promise<void> {
      const gateway = deps.gateway(input.gateway);
      const existing = await gateway.getBackend(input.name);
      if (existing) {
        assertOwned(
          existing,
          { routingGroup: input.routingGroup, proxyTo: input.url, addressOf: "green's address" },
          'overwrite',
          existing.routingGroup === input.routingGroup
            ? 'if an earlier upgrade left it, remove it from the gateway, else pick another green name'
            : 'pick another green name',
        );
        if (existing.active) {
          throw ApplicationFailure.nonRetryable(
            `backend ${input.name} is already active in routing group ${existing.routingGroup}: refusing to overwrite it; pick another green name`,
            'GreenAlreadyActive',
          );
        }
        return; // registered inactive by an earlier attempt of this step
      }
      // Add, not update: a backend someone registers under this name meanwhile makes the add fail
      // (retried, then refused above) instead of being overwritten.
      await gateway.addBackend({
        name: input.name,
        proxyTo: input.url,
        externalUrl: input.url,
        routingGroup: input.routingGroup,
        active: false,
      });
    },

    /**
     * Moves all new queries of the group: activate `to`, wait until the gateway lists it active and
     * HEALTHY, then deactivate `from`. The group always has an active HEALTHY backend.
     */
    async shiftTraffic(input: ShiftTrafficInput): Promise<void> {
      const gateway = deps.gateway(input.gateway);
      const replicas = replicasOf(deps, input.gateway);
      const leave = input.routingGroup === undefined ? [] : await checkShift(gateway, input, input.routingGroup);
      await gateway.activateBackend(input.to);
      heartbeat({ stage: 'activated', backend: input.to });
      const outcome = await pollUntil<true>({
        intervalMs: durationMs(input.interval),
        timeoutMs: durationMs(input.timeout),
        check: async () => {
          if (replicas.length) {
            // Each replica routes by its own health cache: `from` keeps serving until every one reports `to` HEALTHY.
            const [backend, lagging] = await Promise.all([
              gateway.getBackend(input.to),
              unhealthyOnReplicas(replicas, input.to),
            ]);
            if (backend?.active && !lagging) return { done: true, value: true };
            return {
              done: false,
              observation: `${input.to} is ${backend?.active ? 'active' : 'inactive'}${lagging ? `; ${lagging}` : ''}; waiting`,
            };
          }
          const [backend, state] = await Promise.all([gateway.getBackend(input.to), gateway.backendState(input.to)]);
          if (backend?.active && state?.trinoStatus === 'HEALTHY') return { done: true, value: true };
          return {
            done: false,
            observation: `${input.to} is ${backend?.active ? 'active' : 'inactive'} and ${state?.trinoStatus ?? 'UNKNOWN'}`,
          };
        },
      });
      if (!outcome.done) {
        throw ApplicationFailure.nonRetryable(
          `${input.to} was not active and HEALTHY in the gateway within ${input.timeout} (${outcome.observation}); ${input.from.join(', ')} kept serving`,
          'ShiftTargetUnhealthy',
        );
      }
      for (const name of input.from) {
        cancellationSignal().throwIfAborted();
        if (!leave.includes(name)) await gateway.deactivateBackend(name);
      }
      log.info('traffic moved', { to: input.to, from: input.from });
    },

    /**
     * Deactivates and deletes a backend from the gateway; a missing one is already removed. One that
     * is not what cutover registered (another group or address), or that alone serves its group,
     * is left as it is.
     */
    async removeBackend(input: RemoveBackendInput): Promise<RemoveBackendResult> {
      const gateway = deps.gateway(input.gateway);
      const existing = await gateway.getBackend(input.name);
      if (!existing) return { removed: true };
      const mismatch = input.expected && mismatchOf(existing, input.expected);
      const leftBecause = mismatch
        ? `${input.name} ${mismatch}: not this upgrade's to remove`
        : existing.active && (await alone(gateway, existing))
          ? `${input.name} is the only active backend of routing group ${existing.routingGroup}: removing it would leave the group unserved`
          : undefined;
      if (leftBecause) {
        log.warn('backend left in the gateway', { backend: input.name, reason: leftBecause });
        return { removed: false, leftBecause };
      }
      if (existing.active) await gateway.deactivateBackend(input.name);
      await gateway.deleteBackend(input.name);
      return { removed: true };
    },

    /** What the gateway lists in a routing group now, for a message that says what is left after a failure. */
    async readRoutingGroup(input: ReadRoutingGroupInput): Promise<RoutingGroupState> {
      const all = await deps.gateway(input.gateway).listBackends();
      return all
        .filter((backend) => backend.routingGroup === input.routingGroup || input.names.includes(backend.name))
        .map(({ name, routingGroup, active }) => ({ name, routingGroup, active }));
    },

    /**
     * Removes blue from the gateway and, when the plan says so, deletes its clusters: never one
     * that another backend of the gateway proxies to, nor one where a query still runs.
     */
    async retireBlue(input: RetireInput): Promise<{ deleted: string[] }> {
      const gateway = deps.gateway(input.gateway);
      if (input.teardown) await refuseSharedClusters(gateway, input.backends);
      const deleted: string[] = [];
      for (const backend of input.backends) {
        const existing = await gateway.getBackend(backend.name);
        if (existing && input.routingGroup !== undefined) {
          const expected = {
            routingGroup: input.routingGroup,
            proxyTo: backend.proxyTo,
            addressOf: 'its address when the upgrade started',
          };
          assertOwned(existing, expected, 'retire', 'it is no longer the blue this upgrade replaced');
        }
        if (existing?.active) {
          throw ApplicationFailure.nonRetryable(
            `${backend.name} is active again; refusing to retire a serving backend`,
            'BlueStillActive',
          );
        }
        if (input.teardown) await ensureNoQueryRuns(deps, input.provisioner, backend);
        if (existing) await gateway.deleteBackend(backend.name);
        if (input.teardown) {
          const gone = await withProvisioner(deps, input.provisioner, backend.proxyTo, (provisioner) =>
            provisioner.deleteCluster(backend.name, progressFor(backend.name)),
          );
          if (gone) deleted.push(backend.name);
        }
        heartbeat({ retired: backend.name });
      }
      return { deleted };
    },
  };
}

/**
 * Each replica the plan lists must be one of this gateway's (it lists blue from the shared
 * database) and, for a canary rule, hold that rule in its own rules file.
 */
async function checkReplicas(deps: ActivityDeps, input: InspectGatewayInput, blue: GatewayBackend[]): Promise<void> {
  for (const replica of replicasOf(deps, input.gateway)) {
    const listed = new Set((await replica.api.listBackends()).map((backend) => backend.name));
    const missing = blue.filter((backend) => !listed.has(backend.name)).map((backend) => backend.name);
    if (missing.length) {
      throw ApplicationFailure.nonRetryable(
        `gateway replica ${replica.label} does not list ${missing.join(', ')}, which ${input.gateway.url} lists: it does not share that gateway's database; fix gateway.replicas`,
        'ReplicaNotOfGateway',
      );
    }
    const rule = input.canary?.rule;
    if (!rule) continue;
    const rules = await replica.api.getRoutingRules();
    if (!rules.some((candidate) => candidate.name === rule)) {
      throw ApplicationFailure.nonRetryable(
        `gateway replica ${replica.label} has no routing rule ${rule}: add it to that replica's rules file too (each replica reads its own unless they share storage)`,
        'RoutingRuleNotFound',
      );
    }
    refuseMisplacedRule(rule, rules, `gateway replica ${replica.label}`);
  }
}

/** The canary rule must run after every rule that assigns a routing group, or it cannot see their groups. */
function refuseMisplacedRule(ruleName: string, rules: RoutingRule[], where: string): void {
  const problem = misplacedCanaryRule(ruleName, rules);
  if (problem) throw ApplicationFailure.nonRetryable(`${where}: ${problem}`, 'CanaryRuleBeforeGroupRules');
}

/** The other backends of the group: the old blue, when the plan does not name it. */
function othersOf(inGroup: GatewayBackend[], green: string): string[] {
  return inGroup.filter((backend) => backend.name !== green).map((backend) => backend.name);
}

/** An earlier upgrade already flipped the group to this plan's green: say so, and how to finish or undo it. */
function greenAlreadyServes(group: string, green: string, blue: string[]): ApplicationFailure {
  const names = blue.join(', ');
  const ways = blue.length
    ? `To finish, retire ${names} by hand (or start with a plan whose blue is ${green}); to undo, activate ${names} and deactivate ${green}, then start again`
    : `Nothing else is left in the group: to upgrade it again, start with a plan whose blue is ${green} and whose green has another name`;
  return ApplicationFailure.nonRetryable(
    `the only active backend of ${group} is ${green}, this plan's green: an earlier upgrade already moved the group to it. ${ways}`,
    'GreenAlreadyServes',
  );
}

/** The canary entry of this plan, if registered already, must be an inactive backend of the canary group. */
function checkCanaryEntry(all: GatewayBackend[], canary: { group: string; entry: string; rule?: string }): void {
  const entry = all.find((backend) => backend.name === canary.entry);
  if (!entry) return;
  assertOwned(
    entry,
    { routingGroup: canary.group },
    'overwrite',
    `pick another green name (its canary entry is ${canary.entry})`,
  );
  if (entry.active) {
    throw ApplicationFailure.nonRetryable(
      `${canary.entry}, this plan's canary entry, is active in ${canary.group}: an earlier canary upgrade left canary users on it. ` +
        `To undo, set routing rule ${canary.rule ?? 'the canary rule'} back to 0% and deactivate ${canary.entry}, then start again`,
      'CanaryEntryActive',
    );
  }
}

/**
 * Before the flip changes anything: `to` must be the backend this upgrade means (in the group, at
 * its address). Returns the backends of `from` that are in another group now: not this
 * upgrade's to deactivate.
 */
async function checkShift(gateway: GatewayApi, input: ShiftTrafficInput, group: string): Promise<string[]> {
  const target = await gateway.getBackend(input.to);
  if (target) {
    assertOwned(
      target,
      { routingGroup: group, proxyTo: input.toProxyTo, addressOf: `the address ${input.to} was registered with` },
      'activate',
      'nothing was changed',
    );
  }
  const leave: string[] = [];
  for (const name of input.from) {
    const backend = await gateway.getBackend(name);
    if (backend && backend.routingGroup !== group) leave.push(name);
  }
  if (leave.length) log.warn('backends of another routing group left as they are', { backends: leave, group });
  return leave;
}

/** True when `backend` is the only active backend of its routing group. */
async function alone(gateway: GatewayApi, backend: GatewayBackend): Promise<boolean> {
  const active = await gateway.listActiveBackends();
  return !active.some((other) => other.routingGroup === backend.routingGroup && other.name !== backend.name);
}
