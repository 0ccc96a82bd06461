import { approval } from './approval';
import { bake } from './bake';
import type { Compensation, CompensationKind, StepContext, StepKind, StepNames, StepOutcome } from './context';
import { drain } from './drain';
import { keepWarm } from './keep-warm';
import { provision } from './provision';
import { register } from './register';
import { retire } from './retire';
import { shadow } from './shadow';
import { shift, TRAFFIC_COMPENSATIONS } from './shift';
import { verify } from './verify';

/**
 * Every step kind by name: a step's file and one line here make it usable in a strategy. The key
 * must be the kind the file's step type names, and its compensations must be gathered below.
 */
const STEP_KINDS = {
  provision,
  verify,
  register,
  shadow,
  approval,
  shift,
  bake,
  drain,
  keepWarm,
  retire,
};

/** One step of an upgrade, as its step kind's file declares it. A strategy is a list of these; one engine runs any list. */
export type Step = { [K in keyof typeof STEP_KINDS]: StepOf<(typeof STEP_KINDS)[K]> }[keyof typeof STEP_KINDS];
type StepOf<K> = K extends { run(ctx: StepContext, step: infer S): unknown } ? S : never;

/** How a step kind reads and runs (its compensations are gathered in COMPENSATIONS). */
type StepRunner<S extends { kind: string }> = Pick<StepKind<S>, 'describe' | 'run'>;

/** STEP_KINDS, checked: an entry under a key other than its step's kind does not compile. */
const RUNNERS: { [K in Step['kind']]: StepRunner<Extract<Step, { kind: K }>> } = STEP_KINDS;

/** Every compensation, from the step that registers it: one that no step implements does not compile. */
const COMPENSATIONS: Record<CompensationKind, (ctx: StepContext) => Promise<void>> = {
  ...provision.compensations,
  ...register.compensations,
  ...shift.compensations,
};

function kindOf<S extends Step>(step: S): StepRunner<S> {
  return RUNNERS[step.kind] as StepRunner<S>;
}

/** Runs one step of the runbook; I/O happens in the activities it calls. */
export function runStep(ctx: StepContext, step: Step): Promise<StepOutcome> {
  return kindOf(step).run(ctx, step);
}

/**
 * The compensations a rollback runs, in order: the registered ones last first, and green's drain
 * after the compensations that move traffic back to blue (TRAFFIC_COMPENSATIONS). With `drainOnce`
 * green drains once, after all of them, so no new query can reach it while it drains (the canary
 * rule at 0% and its entry inactive, whatever step the rollback came from); without it, after each
 * of them, as upgrades whose rollback started before that change did.
 */
export function rollbackPlan(registered: readonly Compensation[], drainOnce: boolean): Compensation[] {
  const moves = (compensation: Compensation) => TRAFFIC_COMPENSATIONS.includes(compensation.kind);
  const undo = [...registered].reverse();
  const lastMove = undo.map(moves).lastIndexOf(true);
  return undo.flatMap((compensation, index) =>
    moves(compensation) && (!drainOnce || index === lastMove)
      ? [compensation, { kind: 'drainGreen' as const }]
      : [compensation],
  );
}

/** Undoes one change during a rollback; retried until it works. */
export function runCompensation(ctx: StepContext, compensation: Compensation): Promise<void> {
  return COMPENSATIONS[compensation.kind](ctx);
}

/** How a step reads in status, the timeline and the UI. */
export function describeStep(step: Step, names: StepNames): string {
  return kindOf(step).describe(step, names);
}

export { preflight } from './preflight';
export type { Compensation, RunFacts, StepContext, StepOutcome } from './context';
