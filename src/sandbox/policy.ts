import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { WorkerPolicyInput } from '../policy/schema';

/**
 * The worker policy of a local sandbox: credentials may go to the sandbox gateway and to local
 * coordinators over plain HTTP, and plans may use the sandbox provisioner.
 */
export function sandboxPolicy(gatewayUrl: string): WorkerPolicyInput {
  return {
    gateways: [new URL(gatewayUrl).origin],
    coordinators: ['http://127.0.0.1:*'],
    plainHttpHosts: ['127.0.0.1', 'localhost'],
    provisioners: { sandbox: true },
  };
}

/** Writes the sandbox policy into `dir` and returns the file's path. */
export function writeSandboxPolicy(dir: string, gatewayUrl: string): string {
  const path = join(dir, 'cutover-sandbox-policy.yaml');
  writeFileSync(
    path,
    `# Worker policy of the local sandbox, written by cutover (README: Worker policy).\n${stringify(sandboxPolicy(gatewayUrl))}`,
  );
  return path;
}
