import { ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { durationMs } from '../plan/duration';
import { pollUntil } from './poll';
import { progressFor, withProvisioner } from './provisioning';
import { ensureNoQueryRuns, refuseSharedClusters } from './retire-checks';
import type {
  ActivityDeps,
  ShiftTrafficInput,
  InspectGatewayInput,
  InspectGatewayResult,
  RegisterGreenInput,
  ReadRoutingGroupInput,
  RemoveBackendInput,
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
      if (!blue.some((backend) => backend.active)) {
        throw ApplicationFailure.nonRetryable(
          `routing group ${input.routingGroup} has no active backend to upgrade (backends: ${inGroup.map((b) => b.name).join(', ') || 'none'})`,
          'NoActiveBlue',
        );
      }
      const canary = input.canary;
      const squatters = canary
        ? all.filter((b) => b.routingGroup === canary.group && b.name !== canary.entry && b.active)
        : [];
      if (canary && squatters.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `canary group ${canary.group} already serves traffic (active: ${squatters.map((b) => b.name).join(', ')}): canary users would be mixed with its own; set canary.canaryGroup to a group of its own`,
          'CanaryGroupInUse',
        );
      }
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
      if (
        existing &&
        existing.proxyTo === input.url &&
        existing.routingGroup === input.routingGroup &&
        !existing.active
      )
        return;
      if (existing?.active) {
        throw ApplicationFailure.nonRetryable(
          `backend ${input.name} is already active in routing group ${existing.routingGroup}; pick another green name`,
          'GreenAlreadyActive',
        );
      }
      await gateway.upsertBackend({
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
      await gateway.activateBackend(input.to);
      heartbeat({ stage: 'activated', backend: input.to });
      const outcome = await pollUntil<true>({
        intervalMs: durationMs(input.interval),
        timeoutMs: durationMs(input.timeout),
        check: async () => {
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
        await gateway.deactivateBackend(name);
      }
      log.info('traffic moved', { to: input.to, from: input.from });
    },

    /** Deactivates and deletes a backend from the gateway; a missing one is already removed. */
    async removeBackend(input: RemoveBackendInput): Promise<void> {
      const gateway = deps.gateway(input.gateway);
      const existing = await gateway.getBackend(input.name);
      if (!existing) return;
      if (existing.active) await gateway.deactivateBackend(input.name);
      await gateway.deleteBackend(input.name);
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
