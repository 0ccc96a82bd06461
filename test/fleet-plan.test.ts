import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FleetGroup } from '../src/fleet/expand';
import { checkFleetPlan, type FleetCheck } from '../src/fleet/load';
import { merge, type Overrides } from '../src/plan/merge';

/** The routing groups the gateway lists, in the gateway's order. */
const GATEWAY_GROUPS = ['team-c', 'adhoc', 'etl', 'team-a', 'bi', 'team-b', 'reports'];

/** A fleet of 6 groups in 3 waves: adhoc first, then half of the rest, then the rest after an approval. */
function fleetDocument(changes: Overrides = {}): Overrides {
  return merge(
    {
      name: 'nightly-480',
      gateway: { url: 'http://127.0.0.1:8080/' },
      version: '480',
      base: {
        green: { provisioner: { type: 'sandbox', startupDelay: '1s' } },
        approval: { required: false },
        bake: '1m',
      },
      groups: [
        { routingGroup: 'adhoc' },
        { routingGroup: 'etl', strategy: 'canary', green: { name: 'etl-next' } },
        { routingGroup: 'bi', overrides: { bake: '30m', approval: { required: true } } },
        { pattern: 'team-.*' },
      ],
      waves: [
        { name: 'canaries', groups: ['adhoc'] },
        { name: 'half', share: '50%', maxParallel: 2, soak: '10m' },
        { name: 'rest', rest: true, maxParallel: 3, approval: true },
      ],
    },
    changes,
  );
}

function check(document: Overrides, gatewayGroups: string[] | undefined = GATEWAY_GROUPS): FleetCheck {
  return checkFleetPlan(document, gatewayGroups);
}

/** Each wave's routing groups, by wave name. */
function layout(result: FleetCheck): Record<string, string[]> {
  assert.ok(result.expansion, `expanded: ${result.problems.join('\n')}`);
  return Object.fromEntries(
    result.expansion.waves.map((wave) => [
      wave.name,
      wave.groups.map((group: FleetGroup | string) => (typeof group === 'string' ? group : group.routingGroup)),
    ]),
  );
}

function plansOf(result: FleetCheck): Map<string, FleetGroup> {
  assert.ok(result.expansion?.ok, `valid: ${result.problems.join('\n')}`);
  return new Map(result.expansion.waves.flatMap((wave) => wave.groups.map((group) => [group.routingGroup, group])));
}

describe('fleet plan', () => {
  it('expands into waves of validated upgrade plans, each group in exactly one wave, the same for any gateway order', () => {
    const result = check(fleetDocument());
    assert.deepEqual(result.problems, []);
    assert.deepEqual(layout(result), {
      canaries: ['adhoc'],
      // Groups no wave names, in fleet order: etl, bi, then the pattern's matches sorted; 50% of 5 rounds up.
      half: ['etl', 'bi', 'team-a'],
      rest: ['team-b', 'team-c'],
    });
    assert.deepEqual(
      result.expansion?.waves.map(({ name, maxParallel, approval, soak }) => ({ name, maxParallel, approval, soak })),
      [
        { name: 'canaries', maxParallel: 1, approval: false, soak: undefined },
        { name: 'half', maxParallel: 2, approval: false, soak: '10m' },
        { name: 'rest', maxParallel: 3, approval: true, soak: undefined },
      ],
    );
    assert.equal(result.fleet?.onFailure, 'halt', 'halt is the default failure policy');
    assert.deepEqual(check(fleetDocument(), [...GATEWAY_GROUPS].reverse()), result, 'deterministic');
  });

  it("builds each group's plan from the base with the group's overrides, every default filled", () => {
    const plans = plansOf(check(fleetDocument()));
    const adhoc = plans.get('adhoc')!;
    assert.equal(adhoc.entry, 'groups[0]');
    assert.equal(adhoc.plan.routingGroup, 'adhoc');
    assert.equal(adhoc.plan.strategy, 'blue-green');
    assert.deepEqual(adhoc.plan.green.name, 'adhoc-480', 'green is <routingGroup>-<version> by default');
    assert.equal(adhoc.plan.green.version, '480');
    assert.deepEqual(adhoc.plan.gateway, { url: 'http://127.0.0.1:8080', requestTimeout: '10s', retryBudget: '10m' });
    assert.equal(adhoc.plan.bake, '1m');
    assert.equal(adhoc.plan.health.interval, '5s', 'defaults of the upgrade plan schema');
    assert.equal(adhoc.plan.blue, undefined, "blue is every active backend of the group, read by the run's preflight");

    const etl = plans.get('etl')!.plan;
    assert.equal(etl.strategy, 'canary');
    assert.equal(etl.green.name, 'etl-next');
    assert.deepEqual(
      etl.canary?.steps.map((step) => step.weight),
      [5, 25, 50, 100],
    );

    const bi = plans.get('bi')!.plan;
    assert.equal(bi.bake, '30m');
    assert.equal(bi.approval.required, true);
    assert.equal(bi.approval.timeout, '24h', 'overrides merge into the base key by key');
    assert.equal(plans.get('team-b')?.entry, 'groups[3]');
    assert.equal(plans.get('team-b')?.plan.green.name, 'team-b-480');
  });

  it('passes provisioner parameters per group into a command provisioner', () => {
    const document = fleetDocument({
      groups: [
        { routingGroup: 'adhoc', green: { provisioner: { parameters: { namespace: 'trino-adhoc' } } } },
        { routingGroup: 'etl' },
        { routingGroup: 'bi' },
        { pattern: 'team-.*' },
      ],
    });
    (document.base as Overrides).green = {
      provisioner: { type: 'command', profile: 'helm', parameters: { chartVersion: '1.2' } },
    };
    const plans = plansOf(check(document));
    assert.deepEqual(plans.get('adhoc')?.plan.green.provisioner, {
      type: 'command',
      profile: 'helm',
      parameters: { chartVersion: '1.2', namespace: 'trino-adhoc' },
    });
    assert.deepEqual(plans.get('etl')?.plan.green.provisioner, {
      type: 'command',
      profile: 'helm',
      parameters: { chartVersion: '1.2' },
    });
  });

  it('names a group the gateway does not have', () => {
    const result = check(
      fleetDocument({ groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'sales' }], waves: [{ rest: true }] }),
    );
    assert.deepEqual(result.problems, [
      'groups[1].routingGroup: sales is not a routing group of the gateway at http://127.0.0.1:8080 (its groups: adhoc, bi, etl, reports, team-a, team-b, team-c)',
    ]);
  });

  it('names a pattern that matches no routing group of the gateway (a pattern matches whole names)', () => {
    const result = check(
      fleetDocument({
        groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'etl' }, { pattern: 'team' }],
        waves: [{ rest: true }],
      }),
    );
    assert.deepEqual(result.problems, [
      'groups[2].pattern: team matches no routing group of the gateway at http://127.0.0.1:8080 (its groups: adhoc, bi, etl, reports, team-a, team-b, team-c); it must match a whole name',
    ]);
  });

  it('a pattern skips the group of a routing-rule canary under way (<group>-canary beside <group>)', () => {
    const result = checkFleetPlan(fleetDocument({ groups: [{ pattern: '.*' }], waves: [{ rest: true }] }), [
      ...GATEWAY_GROUPS,
      'adhoc-canary',
      'solo-canary',
    ]);
    assert.deepEqual(result.problems, []);
    const groups = result.expansion!.ok ? result.expansion!.waves[0].groups.map((group) => group.routingGroup) : [];
    assert.ok(!groups.includes('adhoc-canary'), "adhoc-canary is adhoc's canary group");
    assert.ok(groups.includes('solo-canary'), 'a group named -canary with no group of its own name is a group');
  });

  it('names a wave left empty', () => {
    const result = check(
      fleetDocument({
        groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'etl' }],
        waves: [
          { name: 'canaries', groups: ['adhoc'] },
          { name: 'half', share: '100%' },
          { name: 'rest', rest: true },
        ],
      }),
    );
    assert.deepEqual(result.problems, [
      'waves[2]: takes no routing group (no group is left for the rest); remove the wave or give it groups',
    ]);
    assert.deepEqual(layout(result), { canaries: ['adhoc'], half: ['etl'], rest: [] });
  });

  it('names duplicate green names, explicit or by default', () => {
    const result = check(
      fleetDocument({
        groups: [
          { routingGroup: 'adhoc' },
          { routingGroup: 'etl', green: { name: 'adhoc-480' } },
          { routingGroup: 'bi', green: { name: 'shared-green' } },
          { routingGroup: 'reports', green: { name: 'shared-green' } },
        ],
        waves: [{ rest: true }],
      }),
    );
    assert.deepEqual(result.problems, [
      'groups[1].green.name: adhoc-480 is also the green of routing group adhoc (groups[0]); each group needs a green of its own',
      'groups[3].green.name: shared-green is also the green of routing group bi (groups[2]); each group needs a green of its own',
    ]);
  });

  it('names a group in two waves, a wave naming a group outside the fleet, and groups in no wave', () => {
    const result = check(
      fleetDocument({
        waves: [
          { name: 'canaries', groups: ['adhoc', 'etl'] },
          { name: 'second', groups: ['etl', 'sales'] },
          { name: 'bi-only', share: '20%' },
        ],
      }),
    );
    assert.deepEqual(result.problems, [
      'waves[1].groups[0]: etl is in waves[0] too; a group upgrades in exactly one wave',
      'waves[1].groups[1]: sales is not a group of this fleet (its groups: adhoc, etl, bi, team-a, team-b, team-c); add it to groups',
      'waves[1]: takes no routing group (none of its groups is in the fleet); remove the wave or give it groups',
      'waves: routing groups team-a, team-b, team-c are in no wave; name them in a wave or end with a wave of rest: true',
    ]);
  });

  it("names each group plan's problem by the fleet field it comes from", () => {
    const result = check(
      fleetDocument({
        base: { health: { interval: '0s' }, retire: { teardown: 'yes' } },
        groups: [
          { routingGroup: 'adhoc', strategy: 'canary' },
          { routingGroup: 'etl', overrides: { bake: 'soon', shadoww: {} } },
          { routingGroup: 'bi', green: { name: 'bad name!' } },
          { pattern: 'team-.*', overrides: { drain: { onTimeout: 'kill' } } },
          { routingGroup: 'reports', green: { provisioner: { parameters: { namespace: 'r' } } } },
        ],
      }),
    );
    assert.deepEqual(result.problems, [
      // Found for every group: said once, without naming groups.
      'base.health.interval: must be longer than 0',
      'base.health.interval: must be at least 100ms',
      'base.retire.teardown: Invalid input: expected boolean, received string',
      'groups[1].overrides.bake: must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)',
      'groups[1].overrides.bake: must be a whole number of milliseconds (e.g. "1.5s", not "0.5ms")',
      "groups[1].overrides.shadoww: unknown field; remove it (credentials belong in the worker's environment, never in a plan)",
      'groups[2].green.name: must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)',
      // A pattern's entry: once, naming the groups it selected.
      'groups[3].overrides.drain.onTimeout: must be "wait", "proceed" or "rollback" (routing groups team-a, team-b, team-c)',
      "groups[4].green.provisioner.parameters: unknown field; remove it (credentials belong in the worker's environment, never in a plan)",
    ]);
  });

  it('reports every rule at once: a missing group, a pattern matching nothing, an empty wave, a duplicate green', () => {
    const result = check(
      fleetDocument({
        name: 'bad name!',
        groups: [
          { routingGroup: 'adhoc' },
          { routingGroup: 'sales' },
          { pattern: 'tenant-.*' },
          { routingGroup: 'etl', green: { name: 'adhoc-480' } },
        ],
        waves: [{ groups: ['adhoc'] }, { share: '100%' }, { rest: true }],
      }),
    );
    assert.deepEqual(result.problems, [
      'name: must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)',
      'groups[1].routingGroup: sales is not a routing group of the gateway at http://127.0.0.1:8080 (its groups: adhoc, bi, etl, reports, team-a, team-b, team-c)',
      'groups[2].pattern: tenant-.* matches no routing group of the gateway at http://127.0.0.1:8080 (its groups: adhoc, bi, etl, reports, team-a, team-b, team-c); it must match a whole name',
      'groups[3].green.name: adhoc-480 is also the green of routing group adhoc (groups[0]); each group needs a green of its own',
      'waves[2]: takes no routing group (no group is left for the rest); remove the wave or give it groups',
    ]);
    assert.equal(result.fleet, undefined);
  });

  it('refuses in the base and in overrides what the fleet sets for each group', () => {
    const document = fleetDocument({ groups: [{ routingGroup: 'adhoc', overrides: { routingGroup: 'etl' } }] });
    document.base = {
      gateway: { url: 'http://elsewhere:8080' },
      blue: { backends: ['b'] },
      green: { name: 'g', version: '481', provisioner: { type: 'sandbox' } },
    };
    assert.deepEqual(check(document).problems, [
      "base.gateway: is the fleet's: set it once at the top of the fleet plan",
      'base.blue: is each group: every active backend of the routing group',
      'base.green.name: is set per group (groups[].green.name), by default <routingGroup>-<version>',
      "base.green.version: is the fleet's version, the same for every group",
      'groups[0].overrides.routingGroup: comes from the groups list: each group gets a plan of its own',
    ]);
  });

  it("names the groups a base problem applies to when it is not every group's, and a default green name too long", () => {
    const long = `g${'x'.repeat(59)}`;
    const result = check(
      fleetDocument({
        base: { analysis: { interval: '10s' } },
        groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'etl', strategy: 'canary' }, { routingGroup: long }],
        waves: [{ rest: true }],
      }),
      [...GATEWAY_GROUPS, long],
    );
    assert.deepEqual(result.problems, [
      'base.analysis: applies to blue-green bakes; a canary sets its analysis in canary.analysis (routing group etl)',
      'groups[2].green.name: must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)',
    ]);
  });

  it('names every problem of the fleet fields themselves', () => {
    const result = check(
      fleetDocument({
        version: 'latest',
        onFailure: 'retry',
        extra: true,
        groups: [
          { routingGroup: 'adhoc', pattern: 'a.*' },
          {},
          { pattern: 'team-(', strategy: 'rolling' },
          { pattern: 'team-.*', green: { name: 'one-green' } },
        ],
        waves: [
          { name: 'w', share: '150%' },
          { name: 'w', groups: ['adhoc'], share: '10%', maxParallel: 0 },
          { rest: true },
          { groups: [] },
        ],
      }),
    );
    assert.deepEqual(result.problems, [
      'version: must be a Trino release number such as "480" (optionally with a suffix such as "443-e.12")',
      'groups[0]: must give either routingGroup: NAME or pattern: REGEX',
      'groups[1]: must give either routingGroup: NAME or pattern: REGEX',
      'groups[2].pattern: must be a valid regular expression such as "team-.*"',
      'groups[2].strategy: must be "blue-green" or "canary"',
      'groups[3].green.name: names one green, but a pattern selects several groups: list the group by its routingGroup',
      'waves[0].share: must be a share from "1%" to "100%", such as "25%"',
      'waves[1].maxParallel: must be 1 or more',
      'waves[1]: must take its groups one way: groups: [NAMES], share: "25%" or rest: true',
      'waves[3].groups: must name at least one routing group',
      'onFailure: must be one of "halt", "continue", "rollback-wave"',
      "extra: unknown field; remove it (credentials belong in the worker's environment, never in a plan)",
    ]);
  });

  it('refuses a rest wave before the last and two waves of one name', () => {
    const result = check(
      fleetDocument({
        waves: [{ rest: true }, { name: 'wave-1', groups: ['adhoc'] }],
      }),
    );
    assert.deepEqual(result.problems, [
      'waves[0].rest: only the last wave may take the rest (later waves would be left empty)',
      'waves[1].name: wave-1 names another wave too',
    ]);
  });

  it('without the gateway: patterns stay unresolved and listed groups are not checked against it', () => {
    const result = checkFleetPlan(fleetDocument(), undefined);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.expansion?.unresolvedPatterns, ['team-.*']);
    assert.deepEqual(layout(result), { canaries: ['adhoc'], half: ['etl'], rest: ['bi'] });
  });

  it('without the gateway: a group a wave names that only a pattern may select waits for the pattern', () => {
    const result = checkFleetPlan(
      fleetDocument({ waves: [{ name: 'canaries', groups: ['adhoc', 'team-a'] }, { rest: true }] }),
      undefined,
    );
    assert.deepEqual(result.problems, []);
    assert.ok(result.expansion?.ok);
    assert.deepEqual(result.expansion.awaitingPatterns, ['team-a']);
    assert.deepEqual(layout(result), { canaries: ['adhoc'], 'wave-2': ['etl', 'bi'] });
    assert.deepEqual(
      check(fleetDocument({ waves: [{ name: 'canaries', groups: ['adhoc', 'team-a'] }, { rest: true }] })).problems,
      [],
      'with the gateway, the pattern selects it',
    );
  });

  it("names a further check's problems of each plan (a worker policy's) by fleet field, once for the base", () => {
    const result = checkFleetPlan(fleetDocument(), GATEWAY_GROUPS, (plan) => [
      'bake: is longer than this worker allows',
      ...(plan.routingGroup === 'etl' ? ['green.name: is reserved'] : []),
      ...(plan.routingGroup.startsWith('team-') ? ['health.interval: is too short'] : []),
    ]);
    assert.deepEqual(result.problems, [
      'base.bake: is longer than this worker allows (routing groups adhoc, etl, team-a, team-b, team-c)',
      'groups[1].green.name: is reserved',
      'groups[2].overrides.bake: is longer than this worker allows',
      'base.health.interval: is too short (routing groups team-a, team-b, team-c)',
    ]);
  });

  it('a group listed twice is a problem; a listed group wins over a pattern, and the first of two patterns takes a group', () => {
    assert.deepEqual(
      check(fleetDocument({ groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'adhoc' }], waves: [{ rest: true }] }))
        .problems,
      ['groups[1].routingGroup: adhoc is listed twice (also groups[0]); list each group once'],
    );
    const plans = plansOf(
      check(
        fleetDocument({
          groups: [
            { pattern: 'team-.*', overrides: { bake: '5m' } },
            { pattern: 'team-(a|b)', overrides: { bake: '6m' } },
            { routingGroup: 'team-a', overrides: { bake: '7m' } },
          ],
          waves: [{ rest: true }],
        }),
      ),
    );
    assert.deepEqual(
      [...plans.values()].map((group) => [group.routingGroup, group.entry, group.plan.bake]),
      [
        ['team-b', 'groups[0]', '5m'],
        ['team-c', 'groups[0]', '5m'],
        ['team-a', 'groups[2]', '7m'],
      ],
    );
  });
});
