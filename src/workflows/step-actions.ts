import type { CanaryTarget } from '../activities/canary';
import type { GatewayTarget, ProvisionerTarget } from '../activities/types';
import { durationMs } from '../plan/duration';
import { compensationOptions, forwardOptions, long, pollingOptions, quick, retryBudgetOf } from './activity-options';
import { canaryBake } from './canary-bake';
import type { UpgradeEngine } from './engine';
import type { RollbackInput } from './messages';
import { namesWith, type Step } from './steps';

/** What the engine does after a step. */
export type StepOutcome = { kind: 'continue' } | { kind: 'rollback'; request: RollbackInput };

/** The undo of a change, recorded as data so it survives replays and continue-as-new. */
export type Compensation =
  | { kind: 'restoreBlue' }
  | { kind: 'resetCanary' }
  | { kind: 'removeCanaryEntry' }
  | { kind: 'removeGreenBackend' }
  | { kind: 'teardownGreen' };

const CONTINUE: StepOutcome = { kind: 'continue' };
/** How long the preflight retries an unreachable gateway before the upgrade fails. */
const PREFLIGHT_BUDGET = '1m';
const automatic = (reason: string): StepOutcome => ({ kind: 'rollback', request: { by: 'cutover (automatic)', reason } });

function gatewayOf(engine: UpgradeEngine): GatewayTarget {
  return { url: engine.plan.gateway.url, requestTimeout: engine.plan.gateway.requestTimeout };
}

function provisionerOf(engine: UpgradeEngine): ProvisionerTarget {
  return { config: engine.plan.green.provisioner, gatewayUrl: engine.plan.gateway.url };
}

/** Where canary traffic goes (routing-rule: a `<green>-canary` entry in the canary group; pool: green itself). */
function canaryOf(engine: UpgradeEngine): CanaryTarget {
  const { plan } = engine;
  const canary = plan.canary!;
  return {
    gateway: gatewayOf(engine),
    mode: canary.traffic,
    entry: canary.traffic === 'routing-rule' ? `${plan.green.name}-canary` : plan.green.name,
    ruleName: canary.ruleName,
    canaryGroup: canary.canaryGroup ?? `${plan.routingGroup}-canary`,
    rulesRefresh: canary.rulesRefresh,
    interval: plan.health.interval,
    timeout: plan.health.timeout,
  };
}

function isRoutingRuleCanary(engine: UpgradeEngine): boolean {
  return engine.plan.canary?.traffic === 'routing-rule';
}

function greenUrl(engine: UpgradeEngine): string {
  const url = engine.facts.greenUrl ?? engine.plan.green.url;
  if (!url) throw new Error('green has no address yet (the provision step did not run)');
  return url;
}

/** Runs one step of the runbook; I/O happens in the activities it calls. */
export async function runStep(engine: UpgradeEngine, step: Step | { kind: 'inspect' }): Promise<StepOutcome> {
  const { plan, facts, status } = engine;
  const green = plan.green.name;
  const budget = retryBudgetOf(plan);
  switch (step.kind) {
    case 'inspect': {
      // Nothing has changed yet: an unreachable gateway fails the upgrade within a minute instead of hanging.
      const found = await quick.inspectGateway.executeWithOptions({ summary: `inspect routing group ${plan.routingGroup}`, scheduleToCloseTimeout: PREFLIGHT_BUDGET }, [
        { gateway: gatewayOf(engine), routingGroup: plan.routingGroup, blue: plan.blue?.backends, green },
      ]);
      facts.blue = found.blue;
      status.blue = found.blue.map((backend) => backend.name);
      status.blueVersion = found.blueVersion;
      engine.refreshStepDescriptions();
      engine.note(`blue: ${status.blue.join(', ')}${found.blueVersion ? ` (Trino ${found.blueVersion})` : ''}`);
      return CONTINUE;
    }
    case 'provision': {
      engine.setPhase('PROVISIONING', `provisioning ${green} (Trino ${plan.green.version}) with the ${plan.green.provisioner.type} provisioner`);
      const before = await quick.inspectGreen.executeWithOptions(forwardOptions(`look for ${green}`, budget), [
        { provisioner: provisionerOf(engine), name: green, url: plan.green.url },
      ]);
      // Registered before creating, so a rollback during creation still removes what this run made.
      if (!before.present) engine.registerCompensation({ kind: 'teardownGreen' });
      const cluster = await long.provisionGreen.executeWithOptions({ summary: `provision ${green}` }, [
        { provisioner: provisionerOf(engine), name: green, version: plan.green.version, url: plan.green.url, routingGroup: plan.routingGroup },
      ]);
      facts.greenUrl = cluster.url;
      status.green.url = cluster.url;
      engine.note(before.present ? `${green} already existed at ${cluster.url}; it will not be torn down by a rollback` : `${green} created at ${cluster.url}`);
      return CONTINUE;
    }
    case 'verify': {
      engine.setPhase('VERIFYING', `waiting until ${green} runs ${plan.green.version} with ${plan.health.minActiveWorkers} workers and passes ${plan.health.smokeQueries.length} smoke queries`);
      status.health = await long.waitForGreenReady.executeWithOptions(
        pollingOptions(`wait until ${green} is ready`, plan.health.interval, plan.health.timeout, budget),
        [{ url: greenUrl(engine), version: plan.green.version, ...pick(plan.health, 'interval', 'timeout', 'smokeQueries', 'minActiveWorkers') }],
      );
      engine.note(`${green} is ready: ${status.health.message}`);
      return CONTINUE;
    }
    case 'register': {
      engine.registerCompensation({ kind: 'removeGreenBackend' });
      await quick.registerGreen.executeWithOptions(forwardOptions(`register ${green} inactive`, budget), [
        { gateway: gatewayOf(engine), name: green, url: greenUrl(engine), routingGroup: plan.routingGroup },
      ]);
      const health = await long.waitForGatewayHealthy.executeWithOptions(
        pollingOptions(`wait until the gateway reports ${green} HEALTHY`, plan.health.interval, plan.health.timeout, budget),
        [{ gateway: gatewayOf(engine), name: green, interval: plan.health.interval, timeout: plan.health.timeout }],
      );
      status.health = { ...status.health, gatewayStatus: health.status };
      if (isRoutingRuleCanary(engine)) {
        const canary = canaryOf(engine);
        engine.registerCompensation({ kind: 'removeCanaryEntry' });
        await quick.registerCanary.executeWithOptions(forwardOptions(`register ${canary.entry} inactive in ${canary.canaryGroup}`, budget), [
          { ...canary, url: greenUrl(engine) },
        ]);
        engine.note(`${canary.entry} registered inactive in canary group ${canary.canaryGroup}`);
      }
      engine.note(
        health.monitored
          ? `${green} registered inactive in ${plan.routingGroup}; the gateway reports it HEALTHY`
          : `${green} registered inactive in ${plan.routingGroup}; this gateway does not health-check inactive backends, so health is confirmed at the flip`,
      );
      return CONTINUE;
    }
    case 'approval': {
      if (engine.promoteAll) return skipped(engine, 'approval gate');
      const decision = await engine.awaitApproval();
      if (decision !== 'timeout') return CONTINUE;
      if (plan.approval.onTimeout === 'proceed') {
        engine.note(`no approval within ${plan.approval.timeout}; proceeding as the plan says (approval.onTimeout: proceed)`);
        return CONTINUE;
      }
      return automatic(`no approval within ${plan.approval.timeout}`);
    }
    case 'shift': {
      if (step.percent < 100) return shiftCanary(engine, step.percent);
      engine.setPhase('SHIFTING', `activating ${green}, then deactivating ${status.blue.join(', ')} once the gateway reports ${green} HEALTHY`);
      engine.registerCompensation({ kind: 'restoreBlue' });
      await long.flip.executeWithOptions(pollingOptions(`flip ${plan.routingGroup} to ${green}`, plan.health.interval, plan.health.timeout, budget), [
        { gateway: gatewayOf(engine), to: green, from: status.blue, interval: plan.health.interval, timeout: plan.health.timeout },
      ]);
      engine.setTraffic(100);
      engine.note(`${green} takes every new query of ${plan.routingGroup}; queries running on blue finish there`);
      if (isRoutingRuleCanary(engine)) {
        const canary = canaryOf(engine);
        await long.resetCanary.executeWithOptions(pollingOptions(`set rule ${canary.ruleName} to 0%`, plan.health.interval, canary.rulesRefresh, budget), [canary]);
        await quick.removeBackend.executeWithOptions(forwardOptions(`remove ${canary.entry}`, budget), [{ gateway: gatewayOf(engine), name: canary.entry }]);
        engine.note(`canary rule ${canary.ruleName} back to 0% and ${canary.entry} removed: ${green} serves ${plan.routingGroup} directly`);
      }
      return CONTINUE;
    }
    case 'bake': {
      if (step.analysis) {
        if (engine.promoteAll) return skipped(engine, step.duration + ' bake');
        return canaryBake(engine, step.duration, canaryOf(engine).entry);
      }
      engine.setPhase('BAKING', `watching ${green} for ${step.duration}`);
      const watched = await long.watchGreen.executeWithOptions(pollingOptions(`bake ${step.duration}`, plan.health.interval, step.duration, budget), [
        {
          gateway: gatewayOf(engine),
          name: green,
          url: greenUrl(engine),
          version: plan.green.version,
          duration: step.duration,
          interval: plan.health.interval,
          maxConsecutiveFailures: plan.health.maxConsecutiveFailures,
        },
      ]);
      status.health = watched.snapshot;
      if (!watched.healthy) return automatic(`${green} failed while baking: ${watched.reason}`);
      engine.note(`bake of ${step.duration} passed`);
      return CONTINUE;
    }
    case 'drain': {
      const names = status.blue.join(', ');
      engine.setPhase('DRAINING', `waiting for the queries still running on ${names} to finish`);
      const drainInput = { backends: facts.blue, interval: plan.drain.interval };
      const first = await long.drainBackends.executeWithOptions(pollingOptions(`drain ${names}`, plan.drain.interval, plan.drain.timeout, budget), [
        { ...drainInput, timeout: plan.drain.timeout },
      ]);
      if (first.drained) {
        engine.note(`${names} drained`);
        return CONTINUE;
      }
      const late = `${first.remaining} queries still run on ${names} after ${plan.drain.timeout}`;
      if (plan.drain.onTimeout === 'proceed') {
        engine.note(`${late}; proceeding as the plan says (drain.onTimeout: proceed)`);
        return CONTINUE;
      }
      if (plan.drain.onTimeout === 'rollback') return automatic(late);
      status.health = { ...status.health, message: `ALERT: ${late}; still waiting (drain.onTimeout: wait)` };
      engine.note(`ALERT: ${late}; waiting until they finish (drain.onTimeout: wait)`);
      await long.drainBackends.executeWithOptions(pollingOptions(`drain ${names} (past timeout)`, plan.drain.interval, undefined, budget), [drainInput]);
      engine.note(`${names} drained`);
      return CONTINUE;
    }
    case 'keepWarm': {
      engine.note(`${namesWith(status.blue, 'stays', 'stay')} deactivated and warm for ${step.duration}: rollback is instant until then`);
      if (durationOver(step.duration)) await engine.waitUnlessRollback(step.duration, `keep ${status.blue.join(', ')} warm ${step.duration}`);
      return CONTINUE;
    }
    case 'retire': {
      engine.clearCompensations();
      engine.setPhase('RETIRING', `removing ${status.blue.join(', ')} from the gateway${plan.retire.teardown ? ' and deleting the clusters' : ''}`);
      const retired = await long.retireBlue.executeWithOptions({ summary: `retire ${status.blue.join(', ')}` }, [
        { gateway: gatewayOf(engine), provisioner: provisionerOf(engine), backends: facts.blue, teardown: plan.retire.teardown },
      ]);
      engine.note(retired.deleted.length ? `deleted ${retired.deleted.join(', ')}` : `${status.blue.join(', ')} removed from the gateway`);
      return CONTINUE;
    }
  }
}

/** Undoes one change during a rollback; retried until it works. */
export async function runCompensation(engine: UpgradeEngine, compensation: Compensation): Promise<void> {
  const { plan, facts, status } = engine;
  const green = plan.green.name;
  const interval = plan.health.interval;
  switch (compensation.kind) {
    case 'restoreBlue': {
      const blue = status.blue.join(', ');
      await long.flip.executeWithOptions(compensationOptions(`restore ${blue}`, interval), [
        { gateway: gatewayOf(engine), to: status.blue[0], from: [green], interval, timeout: plan.health.timeout },
      ]);
      for (const other of status.blue.slice(1)) {
        await long.flip.executeWithOptions(compensationOptions(`restore ${other}`, interval), [
          { gateway: gatewayOf(engine), to: other, from: [], interval, timeout: plan.health.timeout },
        ]);
      }
      engine.setTraffic(0);
      engine.note(`${namesWith(status.blue, 'serves', 'serve')} ${plan.routingGroup} again; draining ${green} (its queries finish, none is killed)`);
      if (facts.greenUrl) {
        await long.drainBackends.executeWithOptions(compensationOptions(`drain ${green}`, plan.drain.interval), [
          { backends: [{ name: green, proxyTo: facts.greenUrl }], interval: plan.drain.interval, unreachableFor: plan.health.timeout },
        ]);
      }
      return;
    }
    case 'resetCanary': {
      const canary = canaryOf(engine);
      await long.resetCanary.executeWithOptions(compensationOptions(`send canary traffic back to ${status.blue.join(', ')}`, interval), [canary]);
      engine.setTraffic(0);
      engine.note(`canary traffic back on ${status.blue.join(', ')}; draining ${green} (its queries finish, none is killed)`);
      if (facts.greenUrl) {
        await long.drainBackends.executeWithOptions(compensationOptions(`drain ${green}`, plan.drain.interval), [
          { backends: [{ name: green, proxyTo: facts.greenUrl }], interval: plan.drain.interval, unreachableFor: plan.health.timeout },
        ]);
      }
      return;
    }
    case 'removeCanaryEntry': {
      const entry = canaryOf(engine).entry;
      await long.removeBackend.executeWithOptions(compensationOptions(`remove ${entry} from the gateway`, interval), [{ gateway: gatewayOf(engine), name: entry }]);
      return;
    }
    case 'removeGreenBackend':
      await long.removeBackend.executeWithOptions(compensationOptions(`remove ${green} from the gateway`, interval), [
        { gateway: gatewayOf(engine), name: green },
      ]);
      engine.note(`${green} removed from the gateway`);
      return;
    case 'teardownGreen': {
      const result = await long.teardownCluster.executeWithOptions(compensationOptions(`tear down ${green}`, interval), [
        { provisioner: provisionerOf(engine), name: green, url: facts.greenUrl },
      ]);
      engine.note(result.deleted ? `${green} torn down` : `${green} was not there to tear down`);
      return;
    }
  }
}

/** Moves a share (< 100%) of new queries to green through the plan's traffic mode. */
async function shiftCanary(engine: UpgradeEngine, percent: number): Promise<StepOutcome> {
  if (engine.promoteAll) return skipped(engine, `${percent}% step`);
  const canary = canaryOf(engine);
  engine.setPhase('SHIFTING', `moving ${percent}% of new queries to ${engine.plan.green.name} (${canary.mode})`);
  engine.registerCompensation({ kind: 'resetCanary' });
  const wait = durationMs(canary.rulesRefresh) + durationMs(canary.timeout);
  const shifted = await long.shiftCanary.executeWithOptions(pollingOptions(`shift ${percent}% to ${canary.entry}`, canary.interval, `${wait}ms`, retryBudgetOf(engine.plan)), [
    { ...canary, percent, blueCount: engine.facts.blue.length },
  ]);
  engine.setTraffic(shifted.appliedPercent);
  engine.note(
    canary.mode === 'routing-rule'
      ? `${percent}% of users (by X-Trino-User) go to ${canary.canaryGroup}; the gateway has re-read its rules`
      : `${canary.entry} joined ${engine.plan.routingGroup}: it gets about ${shifted.appliedPercent}% of new queries`,
  );
  return CONTINUE;
}

function skipped(engine: UpgradeEngine, what: string): StepOutcome {
  engine.note(`${what} skipped (promoted with --full)`);
  return CONTINUE;
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, source[key]])) as Pick<T, K>;
}

function durationOver(duration: string): boolean {
  return !/^0+(\.0+)?(ms|s|m|h|d)$/.test(duration);
}
