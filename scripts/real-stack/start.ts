/**
 * `npm run real-stack`: starts PostgreSQL, Trino Gateway and the blue and green Trino coordinators
 * of the real-stack test, registers blue ACTIVE in routing group adhoc, prints the addresses and
 * keeps everything running until Ctrl-C (then stops it all). For poking at the real APIs by hand.
 */
import { TrinoGatewayClient } from '../../src/integrations/gateway/client';
import { progress, startRealStack } from './stack';

async function main(): Promise<void> {
  const stack = await startRealStack();
  const stop = async () => {
    await stack.stop({ keepDir: process.argv.includes('--keep') });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  const gateway = new TrinoGatewayClient({ url: stack.gateway.url });
  await gateway.upsertBackend({ name: 'trino-blue', proxyTo: stack.blue.url, active: true, routingGroup: 'adhoc' });
  await gateway.close();
  progress(
    [
      'running (Ctrl-C stops everything):',
      `  gateway      ${stack.gateway.url}   (rules file ${stack.gateway.rulesPath})`,
      `  trino-blue   ${stack.blue.url}   Trino ${stack.blue.version}, registered ACTIVE in adhoc`,
      `  trino-green  ${stack.green.url}   Trino ${stack.green.version}, not registered`,
      `  postgres     ${stack.postgres.url}`,
      `  logs         ${stack.dir}`,
    ].join('\n'),
  );
  if (process.argv.includes('--json'))
    process.stdout.write(
      `${JSON.stringify({ gateway: stack.gateway.url, blue: stack.blue.url, green: stack.green.url, dir: stack.dir })}\n`,
    );
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
