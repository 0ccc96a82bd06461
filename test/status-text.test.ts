import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderView } from '../src/client/commands/status';
import type { UpgradeView } from '../src/client/commands/upgrade-handle';
import type { UpgradeStatus } from '../src/workflows/messages';
import { renderDetails } from '../src/workflows/details';

/** A canary upgrade baking at 10%, as the status query returns it: its recorded health is still the verify's. */
function canaryBaking(): UpgradeStatus {
  return {
    id: 'cutover-adhoc',
    runId: 'run',
    strategy: 'canary',
    phase: 'BAKING',
    paused: false,
    routingGroup: 'adhoc',
    blue: ['trino-blue'],
    green: { name: 'trino-green', url: 'http://127.0.0.1:8481', version: '480' },
    trafficPercent: 10,
    step: { index: 4, total: 9, description: 'bake 10m with analysis' },
    gate: '4:bake',
    steps: [],
    awaitingApproval: false,
    health: {
      version: '480',
      activeWorkers: 1,
      message: '1 smoke query finished',
      checkedAt: '2026-01-01T09:00:00.000Z',
    },
    timeline: [],
  };
}

function view(status: UpgradeStatus, extra: Partial<UpgradeView> = {}): UpgradeView {
  return {
    id: status.id,
    runId: status.runId,
    workflowType: 'canaryUpgrade',
    executionStatus: 'RUNNING',
    startTime: '2026-01-01T08:59:00.000Z',
    status,
    workerPolling: true,
    ...extra,
  };
}

const line = (lines: string[], label: string) => lines.find((text) => text.startsWith(`  ${label}:`));

describe('status text', () => {
  it('during a canary bake the health line is the latest analysis sample, not the verify before it', () => {
    const status = canaryBaking();
    const at = '2026-01-01T10:00:42.000Z';
    const lines = renderView(
      view(status, {
        pendingActivity: { type: 'analyseCanary', attempt: 1, summary: '42 s of the bake analysed, 7 samples' },
        liveSample: {
          at,
          gatewayStatus: 'HEALTHY',
          version: '480',
          finished: 12,
          failed: 0,
          errorRate: 0,
          queued: 0,
          samples: 7,
        },
      }),
    );
    const health = line(lines, 'health');
    assert.match(health ?? '', /^ {2}health: {4}HEALTHY, version 480, healthy \(analysis sample \d\d:\d\d:\d\d\)$/);
    assert.doesNotMatch(health ?? '', /smoke/);
    assert.equal(
      line(renderView(view(status, { pendingActivity: { type: 'analyseCanary', attempt: 1 } })), 'health'),
      '  health:    no analysis sample of this bake yet',
    );
  });

  it('green is to be tested only before it serves, while the run goes on', () => {
    const awaiting: UpgradeStatus = { ...canaryBaking(), phase: 'AWAITING_APPROVAL', trafficPercent: 0 };
    assert.match(line(renderView(view(awaiting)), 'green') ?? '', /at http:\/\/127\.0\.0\.1:8481 \(test it there\)$/);
    assert.match(renderDetails(awaiting), /\*\*Green address \(test it here\):\*\*/);
    for (const phase of ['BAKING', 'SUCCEEDED', 'ROLLED_BACK', 'ROLLING_BACK'] as const) {
      const status: UpgradeStatus = { ...canaryBaking(), phase };
      assert.equal(
        line(renderView(view(status)), 'green'),
        '  green:     trino-green 480 at http://127.0.0.1:8481',
        phase,
      );
      assert.doesNotMatch(renderDetails(status), /test it/, phase);
    }
    const neverProvisioned: UpgradeStatus = {
      ...canaryBaking(),
      phase: 'ROLLED_BACK',
      green: { name: 'trino-green', version: '480' },
    };
    assert.equal(line(renderView(view(neverProvisioned)), 'green'), '  green:     trino-green 480');
  });
});
