import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderView } from '../src/client/commands/status';
import type { UpgradeView } from '../src/client/commands/upgrade-handle';
import type { CanaryMeasurement } from '../src/observations';
import type { UpgradeStatus } from '../src/workflows/messages';
import { renderDetails } from '../src/workflows/details';

/** A sample at 50% in which green got fewer new queries than intended and fails with an error blue never shows. */
function sample(): CanaryMeasurement {
  return {
    at: '2026-01-01T10:00:42.000Z',
    gatewayStatus: 'HEALTHY',
    version: '480',
    finished: 37,
    failed: 3,
    errorRate: 0.075,
    queued: 2,
    problem: 'error rate 7.5% on green against 0.0% on blue',
    verdict: 'fail',
    notes: ['latency not judged: 3 finished queries on green, 5 needed'],
    green: {
      name: 'trino-green',
      routed: 41,
      running: 4,
      queued: 2,
      finished: 37,
      failed: 3,
      failedByType: { USER_ERROR: 3 },
      topErrors: [{ name: 'FUNCTION_NOT_FOUND', type: 'USER_ERROR', count: 3 }],
      latencyCount: 37,
      p50Ms: 140,
      p95Ms: 2310,
    },
    blue: {
      name: 'blue',
      routed: 59,
      running: 6,
      queued: 0,
      finished: 60,
      failed: 0,
      failedByType: {},
      topErrors: [],
      latencyCount: 60,
      p50Ms: 120,
      p95Ms: 280,
    },
    newErrorNames: ['FUNCTION_NOT_FOUND'],
    intendedPercent: 50,
    actualPercent: 41,
  };
}

function baking(): UpgradeStatus {
  return {
    id: 'cutover-adhoc',
    runId: 'run',
    strategy: 'canary',
    phase: 'BAKING',
    paused: false,
    routingGroup: 'adhoc',
    blue: ['trino-blue'],
    green: { name: 'trino-green', url: 'http://127.0.0.1:8481', version: '480' },
    trafficPercent: 50,
    step: { index: 4, total: 9, description: 'bake 10m with analysis' },
    gate: '4:bake',
    steps: [],
    awaitingApproval: true,
    health: { version: '480', message: '1 smoke query finished', checkedAt: '2026-01-01T09:00:00.000Z' },
    analysis: { samples: 7, consecutiveFailures: 1, last: sample() },
    timeline: [
      { at: '2026-01-01T09:59:00.000Z', phase: 'SHIFTING', message: '50% of new queries to trino-green' },
      { at: '2026-01-01T10:00:42.000Z', phase: 'BAKING', message: 'analysis at 50%: bad sample\nsecond line' },
    ],
    timelineDropped: 3,
  };
}

/**
 * The block structure CommonMark (what the Temporal UI renders, without GitHub's pipe tables) sees
 * in a document: list items, fenced code blocks and what precedes each.
 */
function blocks(markdown: string) {
  const lines = markdown.split('\n');
  const problems: string[] = [];
  const fences: string[][] = [];
  let fence: string[] | undefined;
  lines.forEach((text, i) => {
    const before = lines[i - 1];
    if (text.startsWith('```')) {
      if (fence) {
        fences.push(fence);
        fence = undefined;
      } else {
        fence = [];
        if (before !== undefined && before !== '') problems.push(`code block without a blank line before: ${text}`);
      }
      return;
    }
    if (fence) {
      fence.push(text);
      return;
    }
    const item = /^[-*] /.test(text);
    if (item && before !== '' && !/^[-*] /.test(before ?? ''))
      problems.push(`list without a blank line before: ${text}`);
    if (!item && text !== '' && /^[-*] /.test(before ?? '')) problems.push(`text runs on from a list item: ${text}`);
  });
  if (fence) problems.push('code block never closed');
  return { problems, fences, items: lines.filter((text) => /^[-*] /.test(text)) };
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

describe('routing decisions an operator reads', () => {
  it("the Temporal UI's details render as CommonMark lists and a blue/green table, each list after a blank line", () => {
    const markdown = renderDetails(baking());
    const { problems, fences, items } = blocks(markdown);
    assert.deepEqual(problems, [], markdown);
    assert.ok(
      items.some((item) => item === '- 10:00:42 BAKING: analysis at 50%: bad sample second line'),
      `a timeline entry stays one list item:\n${markdown}`,
    );
    assert.ok(items.includes('- green got 41% of new queries (intended 50%)'), markdown);
    assert.ok(items.includes('- fail: error rate 7.5% on green against 0.0% on blue'), markdown);
    assert.ok(items.includes('- errors new on green: FUNCTION_NOT_FOUND'), markdown);
    assert.equal(fences.length, 1, markdown);
    const [header, rule, ...rows] = fences[0];
    assert.match(header, /^\s+blue\s+green \(trino-green\)$/);
    assert.match(rule, /^-+( +-+){2}$/, 'a rule under the header');
    assert.deepEqual(
      rows.map((row) => row.trim().split(/\s{2,}/)),
      [
        ['routed', '59', '41'],
        ['running', '6', '4'],
        ['queued', '0', '2'],
        ['finished', '60', '37'],
        ['failed', '0', '3'],
        ['p95', '280 ms', '2310 ms'],
      ],
    );
    assert.match(markdown, /\n\nTo abort:/, 'the abort hint is its own paragraph, not run into the approval gate');
    assert.match(markdown, /\n\n\(3 earlier timeline entries not kept\)$/);
  });

  it('status prints blue and green side by side from the live heartbeat, figures not read as ?', () => {
    const status = baking();
    const live = { ...sample(), at: '2026-01-01T10:01:12.000Z', samples: 8, actualPercent: 49.5 };
    delete live.green!.running;
    const lines = renderView(
      view(status, {
        pendingActivity: { type: 'analyseCanary', attempt: 1 },
        liveSample: live,
        analysis: {
          at: live.at,
          source: 'live',
          verdict: 'fail',
          problem: live.problem,
          intendedPercent: 50,
          actualPercent: 49.5,
          blue: live.blue,
          green: live.green,
          newErrorNames: ['FUNCTION_NOT_FOUND'],
        },
      }),
    );
    const at = lines.findIndex((text) => text.startsWith('  routing:'));
    assert.ok(at > 0, lines.join('\n'));
    assert.match(lines[at], /^ {2}routing: {3}sample \d\d:\d\d:\d\d \(analysis heartbeat\): fail: error rate 7\.5%/);
    assert.equal(lines[at + 1], '             green got 49.5% of new queries (intended 50%)');
    assert.equal(lines[at + 2], '             errors new on green: FUNCTION_NOT_FOUND');
    assert.match(lines[at + 3], /^ {13}\s+blue {2}green \(trino-green\)$/);
    assert.equal(lines[at + 6], '             running        6                    ?');
  });
});
