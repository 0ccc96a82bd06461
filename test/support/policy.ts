import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validatePolicy } from '../../src/policy/load';
import type { WorkerPolicy, WorkerPolicyInput } from '../../src/policy/schema';

/** Reads a sandbox cluster's URL out of the control API's JSON reply. */
const URL_OF = `sed -E 's/.*"url":"([^"]+)".*/\\1/'`;
const CLUSTER = '"$CUTOVER_GATEWAY_URL/sandbox/v1/clusters/$CUTOVER_CLUSTER_NAME"';

/**
 * What the test workers run with: local gateways and coordinators, the sandbox, and the
 * `sandbox-curl` command profile, which drives the sandbox fleet's control API with curl, each
 * command first taking `seconds` (a parameter), as a real provisioner (helm, terraform) takes its time.
 */
export const TEST_POLICY_INPUT: WorkerPolicyInput = {
  gateways: ['http://127.0.0.1:*'],
  coordinators: ['http://127.0.0.1:*'],
  plainHttpHosts: ['127.0.0.1', 'localhost'],
  provisioners: {
    sandbox: true,
    profiles: {
      'sandbox-curl': {
        parameters: ['seconds'],
        timeout: '1m',
        status: `out=$(curl -sf ${CLUSTER}) || exit 3; echo "$out" | ${URL_OF}`,
        create: `sleep "\${CUTOVER_PARAM_SECONDS:-0}" && curl -sf -X PUT --data '{"version":"'"$CUTOVER_TRINO_VERSION"'","startupDelayMs":300}' ${CLUSTER} | ${URL_OF}`,
        delete: `sleep "\${CUTOVER_PARAM_SECONDS:-0}" && curl -sf -X DELETE ${CLUSTER}`,
      },
    },
  },
};

export const TEST_POLICY: WorkerPolicy = validatePolicy(TEST_POLICY_INPUT, 'test policy');

/** Writes `policy` as YAML into `dir` and returns the file's path, for CUTOVER_POLICY_FILE. */
export function writePolicyFile(
  dir: string,
  policy: WorkerPolicyInput = TEST_POLICY_INPUT,
  name = 'policy.yaml',
): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(policy));
  return path;
}
