import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { liveSample, pendingActivityOf, retryText } from '../src/client/pending-activity';
import type { AnalysisProgress, CanaryMeasurement, UpgradeStatus } from '../src/workflows/messages';

/** A describe() answer with these pending activities (only the fields the reader uses). */
function describing(
  ...pending: { type: string; attempt?: number; failure?: string; heartbeat?: unknown }[]
): WorkflowExecutionDescription {
  return {
    raw: {
      pendingActivities: pending.map((activity) => ({
        activityType: { name: activity.type },
        attempt: activity.attempt ?? 1,
        lastFailure: activity.failure ? { message: activity.failure } : null,
        heartbeatDetails:
          activity.heartbeat === undefined
            ? null
            : { payloads: [defaultPayloadConverter.toPayload(activity.heartbeat)] },
        lastHeartbeatTime: { seconds: 1_700_000_000 },
      })),
    },
  } as unknown as WorkflowExecutionDescription;
}

const sample = (at: string, problem?: string): CanaryMeasurement => ({
  at,
  gatewayStatus: 'HEALTHY',
  version: '480',
  finished: 12,
  failed: 0,
  errorRate: 0,
  queued: 0,
  ...(problem ? { problem } : {}),
});

function baking(last?: CanaryMeasurement): UpgradeStatus {
  return {
    step: { index: 5, total: 9, description: 'bake 10m with analysis' },
    analysis: { last, samples: 3, consecutiveFailures: 0 },
  } as unknown as UpgradeStatus;
}

describe('reading the pending activity of an upgrade from describe()', () => {
  it('decodes the canary analysis heartbeat into a live sample newer than the recorded one', () => {
    const progress: AnalysisProgress = {
      elapsedMs: 42_000,
      failures: 0,
      since: 0,
      samples: 7,
      last: sample('2026-01-01T10:00:42.000Z'),
    };
    const activity = pendingActivityOf(describing({ type: 'analyseCanary', heartbeat: progress }));
    assert.equal(activity?.type, 'analyseCanary');
    assert.deepEqual(activity?.heartbeat, progress);
    assert.equal(activity?.summary, '42 s of the bake analysed, 7 samples');
    assert.deepEqual(liveSample(activity, baking(sample('2026-01-01T10:00:10.000Z'))), {
      ...progress.last,
      samples: 7,
    });
    assert.equal(
      liveSample(activity, baking(sample('2026-01-01T10:00:42.000Z'))),
      undefined,
      'not newer than the status: nothing live to add',
    );
    assert.equal(retryText(activity, baking()), undefined, 'a first attempt is not retrying');
  });

  it('says in the canary summary how long green went unwatched in the bake', () => {
    const progress: AnalysisProgress = { elapsedMs: 42_000, failures: 0, since: 0, samples: 7, unwatchedMs: 47_000 };
    const activity = pendingActivityOf(describing({ type: 'analyseCanary', heartbeat: progress }));
    assert.equal(activity?.summary, '42 s of the bake analysed, 7 samples, 47 s unwatched (made up)');
  });

  it('says in the summary that inconclusive samples hold the bake clock', () => {
    const progress: AnalysisProgress = {
      elapsedMs: 12_000,
      failures: 0,
      since: 0,
      samples: 9,
      inconclusiveSamples: 3,
      inconclusiveMs: 90_000,
    };
    const activity = pendingActivityOf(describing({ type: 'analyseCanary', heartbeat: progress }));
    assert.equal(
      activity?.summary,
      '12 s of the bake analysed, 9 samples; inconclusive for 90 s (too little traffic on green): the clock holds',
    );
  });

  it('shows a retrying activity (not the first one) with its attempt and last failure', () => {
    const description = describing(
      { type: 'drainBackends', heartbeat: { startedAt: 1, observation: '3 queries still active' } },
      { type: 'flip', attempt: 4, failure: 'gateway unreachable: connect ECONNREFUSED' },
    );
    const activity = pendingActivityOf(description);
    assert.equal(activity?.type, 'flip');
    assert.equal(
      retryText(activity, undefined),
      'retrying: flip, attempt 4: gateway unreachable: connect ECONNREFUSED',
    );
    assert.equal(liveSample(activity, undefined), undefined);
  });

  it("a webhook's retried delivery never stands in for the step's activity (the live sample stays visible)", () => {
    const progress: AnalysisProgress = {
      elapsedMs: 4_000,
      failures: 0,
      since: 0,
      samples: 2,
      last: sample('2026-01-01T10:00:04.000Z'),
    };
    const description = describing(
      {
        type: 'notify',
        attempt: 3,
        failure: 'gate event not delivered yet: webhooks[0] (https://hooks.example.com) answered HTTP 500',
      },
      { type: 'analyseCanary', heartbeat: progress },
    );
    const activity = pendingActivityOf(description);
    assert.equal(activity?.type, 'analyseCanary');
    assert.equal(retryText(activity, baking()), undefined);
    assert.deepEqual(liveSample(activity, baking()), { ...progress.last, samples: 2 });
    assert.equal(
      pendingActivityOf(describing({ type: 'notify', attempt: 2, failure: 'HTTP 500' })),
      undefined,
      'an upgrade that only delivers an event runs no step activity',
    );
  });

  it('summarises a polling heartbeat by its observation', () => {
    const activity = pendingActivityOf(
      describing({ type: 'drainBackends', heartbeat: { startedAt: 1, observation: '3 queries still active' } }),
    );
    assert.equal(activity?.summary, '3 queries still active');
    assert.equal(pendingActivityOf(describing()), undefined);
  });

  it('summarises every heartbeat shape the activities send in words, never as raw JSON', () => {
    const summaries = [
      { type: 'shiftTraffic', heartbeat: { stage: 'activated', backend: 'trino-green' } },
      { type: 'retireBlue', heartbeat: { retired: 'trino-blue' } },
      { type: 'provisionGreen', heartbeat: { message: 'sandbox: cluster trino-green starting' } },
      { type: 'analyseCanary', heartbeat: { elapsedMs: 2_000, failures: 0, since: 0, samples: 1 } },
      { type: 'shiftCanary', heartbeat: { waitingForRulesRefresh: 2000 } },
    ].map((pending) => pendingActivityOf(describing(pending))?.summary);
    assert.deepEqual(summaries, [
      'trino-green activated; waiting until the gateway lists it active and HEALTHY',
      'trino-blue retired',
      'sandbox: cluster trino-green starting',
      '2 s of the bake analysed, 1 sample',
      undefined,
    ]);
    const unknown = pendingActivityOf(describing({ type: 'shiftCanary', heartbeat: { waitingForRulesRefresh: 2000 } }));
    assert.deepEqual(unknown?.heartbeat, { waitingForRulesRefresh: 2000 }, '--json still shows the details');
  });
});
