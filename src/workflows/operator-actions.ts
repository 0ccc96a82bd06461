import { ApplicationFailure, patched, setHandler } from '@temporalio/workflow';
import type { UpgradePlan } from '../plan/schema';
import { shadowCounts } from '../shadow-report';
import { ANY_GATE, APPROVAL_REFUSED } from '../signing/payload';
import { authorizationRefusal, authorize, SIGNED_APPROVALS, type ApprovalRule } from './approvals';
import {
  FINAL_PHASES,
  OPERATOR_MESSAGES,
  type Acknowledgement,
  type ApproveInput,
  type OperatorActionName,
  type OperatorInputs,
  type PauseInput,
  type PromoteInput,
  type ResumeInput,
  type RollbackInput,
  type UpgradeStatus,
} from './messages';

/** What the operator actions read and change in a running upgrade (the engine implements it). */
export interface OperatorTarget {
  readonly plan: UpgradePlan;
  readonly status: UpgradeStatus;
  readonly rollingBack: boolean;
  /** True once blue is being retired: nothing can be undone any more. */
  readonly pastPointOfNoReturn: boolean;
  /** Nonces of the signed requests this upgrade already saw: each signature is good once. */
  readonly usedNonces: ReadonlySet<string>;
  useNonce(nonce: string): void;
  note(message: string): void;
  /** Hands an approval to the gate that waits. */
  approve(input: ApproveInput): void;
  requestRollback(request: RollbackInput): void;
  /** Ends the bake under way (and with `full`, skips what remains). */
  promote(input: PromoteInput): void;
}

/** One operator action: why it is refused now, and what it does when it is not. */
interface OperatorAction<I> {
  /** The reason the action cannot apply now, shown to the operator; undefined when it applies. */
  refusal(target: OperatorTarget, input: I | undefined): string | undefined;
  /** A further check of updates only: a signal is taken as the Temporal UI sends it. */
  updateRefusal?(input: I): string | undefined;
  /** Actions that need to know who asks: the worker checks them (approvals.ts) before they apply. */
  approval?: ApprovalRule<I & { by: string }>;
  /** Applies the action (its `by` then says how it was verified); returns what the operator reads. */
  apply(target: OperatorTarget, input: I): string;
}

type InputOf<K extends OperatorActionName> = OperatorInputs[K];

const withoutWho = (input: { by?: unknown } | undefined): boolean =>
  !input || typeof input.by !== 'string' || !input.by;
const over = (target: OperatorTarget): string | undefined =>
  FINAL_PHASES.has(target.status.phase) || target.rollingBack
    ? `the upgrade is ${target.rollingBack ? 'rolling back' : 'over'}`
    : undefined;

/** approve, rollback, pause, resume and promote: declared once, installed as a signal and a validated update each. */
const OPERATOR_ACTIONS: { [K in OperatorActionName]: OperatorAction<InputOf<K>> } = {
  approve: {
    refusal(target, input: ApproveInput | undefined) {
      if (withoutWho(input)) return 'an approval must say who approves ({"by": "name"})';
      if (!target.status.awaitingApproval) return `nothing awaits approval (phase ${target.status.phase})`;
      const approvers = target.plan.approval.approvers;
      if (approvers && !approvers.includes(input!.by))
        return `${input!.by} is not an approver (approvers: ${approvers.join(', ')})`;
      return undefined;
    },
    approval: { signedAction: () => 'approve', gate: (target) => target.status.gate, required: true },
    apply(target, input) {
      target.approve(input);
      const shadow = target.status.shadow;
      if (target.status.gate.endsWith(':shadow') && shadow)
        return `shadow report acknowledged by ${input.by} (${shadowCounts(shadow.report)}, gate ${target.status.gate}); the upgrade goes on`;
      return `approved by ${input.by}; shifting traffic to ${target.plan.green.name}`;
    },
  },
  rollback: {
    refusal(target, input: RollbackInput | undefined) {
      if (withoutWho(input)) return 'a rollback must say who asks ({"by": "name", "reason": "..."})';
      if (FINAL_PHASES.has(target.status.phase)) return `the upgrade already ended (${target.status.phase})`;
      if (target.rollingBack) return 'a rollback is already under way';
      if (target.pastPointOfNoReturn)
        return 'blue is being retired; a rollback is no longer possible, start a new upgrade instead';
      return undefined;
    },
    updateRefusal: (input) => (input.reason ? undefined : 'a rollback needs a reason'),
    approval: { signedAction: () => 'rollback', gate: () => ANY_GATE, required: false },
    apply(target, input) {
      target.requestRollback({ by: input.by, reason: input.reason || 'no reason given' });
      return `rolling back ${target.plan.routingGroup} to ${target.status.blue.join(', ')}`;
    },
  },
  pause: {
    refusal: (target) => over(target) ?? (target.status.paused ? 'already paused' : undefined),
    apply(target, input: PauseInput) {
      target.status.paused = true;
      target.note(`paused by ${input?.by ?? 'unknown'}: the next step waits for resume`);
      return `paused before: ${target.status.step.description}`;
    },
  },
  resume: {
    refusal: (target) => (target.status.paused ? undefined : 'the upgrade is not paused'),
    apply(target, input: ResumeInput) {
      target.status.paused = false;
      target.note(`resumed by ${input?.by ?? 'unknown'}`);
      return `resumed: ${target.status.step.description}`;
    },
  },
  promote: {
    refusal(target, input: PromoteInput | undefined) {
      if (withoutWho(input)) return 'a promote must say who asks ({"by": "name"})';
      if (target.plan.strategy !== 'canary') return 'promote applies to canary upgrades only';
      const ended = over(target);
      if (ended) return ended;
      if (target.pastPointOfNoReturn || target.status.phase === 'DRAINING') return 'green already takes all traffic';
      if (!input!.full && target.status.phase !== 'BAKING')
        return `nothing bakes now (phase ${target.status.phase}); use --full to skip the remaining steps`;
      return undefined;
    },
    approval: {
      signedAction: (input) => (input.full ? 'promote-full' : 'promote'),
      gate: (target) => target.status.gate,
      required: true,
    },
    apply(target, input) {
      target.promote(input);
      target.note(
        `promoted by ${input.by}: ${input.full ? 'skipping every remaining step up to 100%' : 'skipping the current bake'}`,
      );
      return input.full ? 'promoting: green takes 100% next' : 'promoting: the current bake ends now';
    },
  },
};

/**
 * Installs every operator action on the running workflow. An update that would be refused is
 * rejected by its validator (nothing enters history); a refused signal is noted in the timeline
 * and dropped, never carried to a later gate. Actions with an approval rule first ask the worker
 * who they are from (patch SIGNED_APPROVALS); a refusal there is noted, and fails the update.
 */
export function installOperatorActions(target: OperatorTarget): void {
  for (const name of Object.keys(OPERATOR_ACTIONS) as OperatorActionName[]) install(target, name);
}

function install<K extends OperatorActionName>(target: OperatorTarget, name: K): void {
  const action = OPERATOR_ACTIONS[name] as OperatorAction<InputOf<K>>;
  const { signal, update } = OPERATOR_MESSAGES[name];
  const who = (input: InputOf<K> | undefined) => (input as { by?: string } | undefined)?.by ?? 'unknown';
  const ignored = (input: InputOf<K>, refusal: string): Acknowledgement => {
    target.note(`${name} from ${who(input)} ignored: ${refusal}`);
    return { accepted: true, message: `ignored: ${refusal}` };
  };
  const handle = (input: InputOf<K>, via: 'signal' | 'update'): Acknowledgement | Promise<Acknowledgement> => {
    const refusal = action.refusal(target, input);
    if (refusal) return ignored(input, refusal);
    const rule = action.approval;
    if (!rule || !patched(SIGNED_APPROVALS)) return { accepted: true, message: action.apply(target, input) };
    const refuse = (reason: string): Acknowledgement => {
      if (via === 'signal') return ignored(input, reason);
      target.note(`${name} from ${who(input)} refused: ${reason}`);
      throw ApplicationFailure.create({ message: reason, type: APPROVAL_REFUSED, nonRetryable: true });
    };
    return authorize(target, rule, input).then((authorization) => {
      if ('refused' in authorization) return refuse(authorization.refused);
      // The upgrade may have moved on while the worker checked.
      const late = action.refusal(target, input);
      if (late) return refuse(late);
      return {
        accepted: true,
        message: action.apply(target, { ...input, by: authorization.by, signature: undefined }),
      };
    });
  };
  setHandler(signal, (input) => void handle(input, 'signal'));
  setHandler(update, (input) => handle(input, 'update'), {
    validator: (input: InputOf<K>) => {
      const refusal =
        action.refusal(target, input) ??
        action.updateRefusal?.(input) ??
        (action.approval?.required ? authorizationRefusal(target, action.approval, input) : undefined);
      if (refusal) throw new Error(refusal);
    },
  });
}
