import { CONTINUE, namesWith, type StepKind } from './context';

export type KeepWarmStep = { kind: 'keepWarm'; duration: string };

/** Blue stays deactivated but running, on a durable timer: until it fires a rollback is instant. */
export const keepWarm: StepKind<KeepWarmStep> = {
  describe: (step, names) => `keep ${names.blue.join(', ') || 'blue'} warm ${step.duration}`,

  async run(ctx, step) {
    const { status } = ctx;
    ctx.note(
      `${namesWith(status.blue, 'stays', 'stay')} deactivated and warm for ${step.duration}: rollback is instant until then`,
    );
    if (!isZero(step.duration))
      await ctx.waitUnlessRollback(step.duration, `keep ${status.blue.join(', ')} warm ${step.duration}`);
    return CONTINUE;
  },

  compensations: {},
};

function isZero(duration: string): boolean {
  return /^0+(\.0+)?(ms|s|m|h|d)$/.test(duration);
}
