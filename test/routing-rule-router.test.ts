import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { routingRule } from '../src/integrations/traffic/routing-rule';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { SandboxGateway } from '../src/sandbox/gateway';

describe('routing-rule traffic router against the sandbox gateway', () => {
  // The rules engine is on, but only another group's canary rule is in the file.
  const gateway = new SandboxGateway({ healthIntervalMs: 1_000, rules: canaryReadyRules('other-canary') });
  let client: TrinoGatewayClient;
  const settings = { canaryGroup: 'adhoc-canary', ruleName: 'cutover-canary-adhoc', rulesRefresh: '1s' };

  before(async () => {
    await gateway.start();
    client = new TrinoGatewayClient({ url: gateway.url, requestTimeoutMs: 5_000 });
  });
  after(() => gateway.stop());

  it('a reset finds nothing to undo when the rule is missing (a rollback can finish)', async () => {
    const router = routingRule.router(client, settings);
    assert.deepEqual(await router.reset(), { percent: 0, appliedAfterMs: 0 });
    assert.deepEqual(
      (await client.getRoutingRules()).map((rule) => rule.name),
      ['routing-group-header', 'cutover-canary-other'],
      'the rules file is unchanged',
    );
  });

  it('a weight cannot be set through a missing rule, and the error says what to add', async () => {
    const router = routingRule.router(client, settings);
    await assert.rejects(router.setWeight(10, 1), (error: Error & { type?: string; retryable?: boolean }) => {
      assert.match(error.message, /routing rule cutover-canary-adhoc does not exist in the gateway's rules file/);
      assert.match(error.message, /action 'result\.put\("routingGroup", "adhoc-canary"\)'/);
      return true;
    });
  });
});
