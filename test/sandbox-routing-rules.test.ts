import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileRoutingRule,
  compileRoutingRules,
  javaFloorMod,
  javaStringHashCode,
  selectRoutingGroup,
  UnsupportedRoutingRuleError,
  type HeaderLookup,
} from '../src/sandbox/routing-rules';
import { canaryAction } from '../src/integrations/traffic/routing-rule';

const CANARY_CONDITION = (percent: number): string =>
  `request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < ${percent}`;

function headers(values: Record<string, string>): HeaderLookup {
  return (name) => Object.entries(values).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

describe('sandbox routing rules: Java semantics', () => {
  // Expected values printed by OpenJDK 17's String.hashCode and Math.floorMod.
  it('hashes like Java String.hashCode, non-ASCII and surrogate pairs included', () => {
    assert.equal(javaStringHashCode('abc'), 96354);
    assert.equal(javaStringHashCode('user-17'), -147182744);
    assert.equal(javaStringHashCode('Zoë'), 90166);
    assert.equal(javaStringHashCode('日本語'), 25921943);
    assert.equal(javaStringHashCode('👩‍💻 dev'), -865642988);
    assert.equal(javaStringHashCode('polygenelubricants'), -2147483648);
    assert.equal(javaStringHashCode(''), 0);
  });

  it('takes floorMod with the sign of the divisor, so negative hashes land in 0..99', () => {
    assert.equal(javaFloorMod(-147182744, 100), 56);
    assert.equal(javaFloorMod(-865642988, 100), 12);
    assert.equal(javaFloorMod(-2147483648, 100), 52);
    assert.equal(javaFloorMod(96354, 100), 54);
  });
});

describe('sandbox routing rules: evaluation', () => {
  const passthrough = {
    name: 'passthrough',
    priority: 0,
    condition: 'request.getHeader("X-Trino-Routing-Group") != null',
    actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
  };
  const canary = (percent: number) => ({
    name: 'canary',
    priority: 10,
    condition: CANARY_CONDITION(percent),
    actions: ['result.put("routingGroup", "canary")'],
  });

  it('routes a user to the canary group exactly when floorMod(hashCode, 100) is below the threshold', () => {
    const rules = compileRoutingRules([canary(57)]);
    assert.equal(selectRoutingGroup(rules, headers({ 'X-Trino-User': 'user-17' })), 'canary', 'bucket 56 < 57');
    assert.equal(
      selectRoutingGroup(compileRoutingRules([canary(56)]), headers({ 'X-Trino-User': 'user-17' })),
      undefined,
      'bucket 56 is not < 56',
    );
    assert.equal(selectRoutingGroup(rules, headers({ 'X-Trino-User': 'abc' })), 'canary', 'bucket 54');
    assert.equal(selectRoutingGroup(rules, headers({ 'X-Trino-User': 'Zoë' })), undefined, 'bucket 66');
    assert.equal(selectRoutingGroup(rules, headers({})), undefined, 'no user, no canary');
    assert.equal(selectRoutingGroup(compileRoutingRules([canary(0)]), headers({ 'X-Trino-User': 'abc' })), undefined);
    assert.equal(selectRoutingGroup(compileRoutingRules([canary(100)]), headers({ 'X-Trino-User': 'Zoë' })), 'canary');
  });

  it('fires every matching rule in priority order, the last routingGroup wins', () => {
    const user = headers({ 'X-Trino-User': 'abc', 'x-trino-routing-group': 'etl' });
    // Listed in the "file" with the canary first; priority still runs the passthrough first.
    assert.equal(selectRoutingGroup(compileRoutingRules([canary(100), passthrough]), user), 'canary');
    assert.equal(selectRoutingGroup(compileRoutingRules([{ ...canary(100), priority: -1 }, passthrough]), user), 'etl');
    assert.equal(selectRoutingGroup(compileRoutingRules([passthrough, canary(0)]), user), 'etl');
  });

  it('evaluates a canary action\'s result.get("routingGroup") as the group the rules before it assigned', () => {
    const etl = headers({ 'X-Trino-User': 'abc', 'X-Trino-Routing-Group': 'etl' });
    const adhoc = headers({ 'X-Trino-User': 'abc', 'X-Trino-Routing-Group': 'adhoc' });
    const none = headers({ 'X-Trino-User': 'abc' });
    const adhocCanary = (priority: number) => ({
      name: 'cutover-canary-adhoc',
      priority,
      condition: CANARY_CONDITION(100),
      actions: [canaryAction('adhoc-canary', { routingGroup: 'adhoc', defaultRoutingGroup: 'adhoc' })],
    });
    const etlCanary = {
      name: 'cutover-canary-etl',
      priority: 10,
      condition: CANARY_CONDITION(100),
      actions: [canaryAction('etl-canary', { routingGroup: 'etl', defaultRoutingGroup: 'adhoc' })],
    };
    const after = compileRoutingRules([adhocCanary(10), passthrough]);
    assert.equal(selectRoutingGroup(after, etl), 'etl', "etl's query is not adhoc's canary's");
    assert.equal(selectRoutingGroup(after, adhoc), 'adhoc-canary');
    assert.equal(selectRoutingGroup(after, none), 'adhoc-canary', 'unassigned: the default group adhoc, its canary');
    // Run before the passthrough (a lower priority number), the action sees no group yet: the header rule then wins.
    assert.equal(selectRoutingGroup(compileRoutingRules([adhocCanary(-1), passthrough]), adhoc), 'adhoc');
    // The canary of a group that is not the default never takes unassigned requests.
    const both = compileRoutingRules([passthrough, etlCanary, adhocCanary(10)]);
    assert.equal(selectRoutingGroup(both, etl), 'etl-canary');
    assert.equal(selectRoutingGroup(both, adhoc), 'adhoc-canary');
    assert.equal(selectRoutingGroup(both, none), 'adhoc-canary');
    assert.equal(selectRoutingGroup(compileRoutingRules([passthrough, etlCanary]), none), undefined);
    // Another canary's group is not this one's: whatever their order, each takes only its own group.
    const reversed = compileRoutingRules([passthrough, { ...etlCanary, priority: 20 }, adhocCanary(10)]);
    assert.equal(selectRoutingGroup(reversed, etl), 'etl-canary');
    assert.equal(selectRoutingGroup(reversed, adhoc), 'adhoc-canary');
  });

  it('keeps file order among rules of equal priority and applies the defaults of the real RoutingRule', () => {
    const first = { name: 'a', condition: 'true', actions: ["result.put('routingGroup', 'first')"] };
    const second = { name: 'b', condition: ' true ', actions: ['result.put("routingGroup", "second");'] };
    assert.equal(selectRoutingGroup(compileRoutingRules([first, second]), headers({})), 'second');
    assert.deepEqual(compileRoutingRule(first).rule, { ...first, description: '', priority: 0 });
  });

  it('refuses any other expression with a message naming it and the supported shapes', () => {
    const refused = [
      { name: 'random', condition: 'Math.random() < 0.1', actions: ['result.put("routingGroup", "canary")'] },
      {
        name: 'other-header',
        condition: 'request.getHeader("X-Trino-Source") != null',
        actions: ['result.put("routingGroup", "x")'],
      },
      { name: 'other-key', condition: 'true', actions: ['result.put("group", "x")'] },
      {
        name: 'modulo-50',
        condition: CANARY_CONDITION(5).replace(', 100)', ', 50)'),
        actions: ['result.put("routingGroup", "x")'],
      },
    ];
    for (const rule of refused) {
      assert.throws(
        () => compileRoutingRule(rule),
        (error: unknown) =>
          error instanceof UnsupportedRoutingRuleError &&
          error.message.includes(`"${rule.name}"`) &&
          error.message.includes('real Trino Gateway would accept any MVEL'),
      );
    }
    assert.throws(() => compileRoutingRule({ name: 'x', actions: [] }), /condition is required/);
  });
});
