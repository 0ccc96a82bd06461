import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { SandboxFleet } from './fleet';
import { ClusterVersionConflictError, UnknownReplicaError } from './fleet-errors';

const PREFIX = '/sandbox/v1';

const createBody = z.strictObject({
  version: z.string().min(1),
  startupDelayMs: z.number().int().nonnegative().optional(),
  queryViewers: z.array(z.string().min(1)).optional(),
});

const faultsBody = z.strictObject({
  unhealthy: z.boolean().optional(),
  failRate: z.number().min(0).max(1).optional(),
  queryDelayMs: z.number().nonnegative().optional(),
  queryJitterMs: z.number().nonnegative().optional(),
  queryLatencyFactor: z.number().positive().optional(),
  errors: z
    .array(
      z.strictObject({
        rate: z.number().min(0).max(1),
        errorType: z.enum(['USER_ERROR', 'INTERNAL_ERROR', 'INSUFFICIENT_RESOURCES', 'EXTERNAL']),
        errorName: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
        message: z.string().optional(),
        sqlContains: z.string().min(1).optional(),
      }),
    )
    .optional(),
  resultChanges: z
    .array(
      z.strictObject({
        sqlContains: z.string().min(1),
        change: z.enum(['rows', 'rowCount', 'type', 'float', 'unstable']),
      }),
    )
    .optional(),
  queryListStatus: z.union([z.literal(0), z.number().int().min(400).max(599)]).optional(),
  refuseImpersonation: z.boolean().optional(),
  crash: z.boolean().optional(),
});

const replicaFaultsBody = z.strictObject({
  staleRules: z.boolean().optional(),
  refuseRuleUpdates: z.boolean().optional(),
  healthFrozen: z.boolean().optional(),
});

/** Parses a JSON body against a schema; undefined after answering 400 with every problem named. */
function readBody<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' && body !== '' ? body : '{}');
  } catch (error) {
    void reply.code(400).send({ message: `body is not JSON: ${(error as Error).message}` });
    return undefined;
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  void reply.code(400).send({ message: problems.join('; ') });
  return undefined;
}

/** Registers the fleet's control API (JSON) on the gateway's app. */
export function registerControlApi(app: FastifyInstance, fleet: SandboxFleet): void {
  app.get(`${PREFIX}/clusters`, async () => fleet.clusters().map((cluster) => cluster.describe()));

  app.get<{ Params: { name: string } }>(`${PREFIX}/clusters/:name`, async (request, reply) => {
    const cluster = fleet.cluster(request.params.name);
    return cluster
      ? cluster.describe()
      : reply.code(404).send({ message: `no sandbox cluster named ${request.params.name}` });
  });

  app.put<{ Params: { name: string } }>(`${PREFIX}/clusters/:name`, async (request, reply) => {
    const body = readBody(createBody, request.body, reply);
    if (!body) return reply;
    try {
      const { cluster, created } = await fleet.createCluster({ name: request.params.name, ...body });
      return reply
        .code(created ? 201 : 200)
        .send({ name: cluster.name, version: cluster.version, url: cluster.url, created });
    } catch (error) {
      if (error instanceof ClusterVersionConflictError) return reply.code(409).send({ message: error.message });
      throw error;
    }
  });

  app.delete<{ Params: { name: string } }>(`${PREFIX}/clusters/:name`, async (request) => ({
    deleted: await fleet.deleteCluster(request.params.name),
  }));

  app.post<{ Params: { name: string } }>(`${PREFIX}/clusters/:name/faults`, async (request, reply) => {
    const body = readBody(faultsBody, request.body, reply);
    if (!body) return reply;
    if (!fleet.cluster(request.params.name))
      return reply.code(404).send({ message: `no sandbox cluster named ${request.params.name}` });
    return (await fleet.applyFaults(request.params.name, body)).describe();
  });

  app.get(`${PREFIX}/gateway-replicas`, async () =>
    [...fleet.gatewayReplicas.entries()].map(([name, replica]) => ({ name, url: replica.url })),
  );

  app.post<{ Params: { name: string } }>(`${PREFIX}/gateway-replicas/:name/faults`, async (request, reply) => {
    const body = readBody(replicaFaultsBody, request.body, reply);
    if (!body) return reply;
    try {
      fleet.setReplicaFaults(request.params.name, body);
      return { name: request.params.name, faults: body };
    } catch (error) {
      if (error instanceof UnknownReplicaError) return reply.code(404).send({ message: error.message });
      throw error;
    }
  });

  app.get<{ Querystring: { since?: string } }>(`${PREFIX}/journal`, async (request, reply) => {
    const since = request.query.since === undefined ? undefined : Number(request.query.since);
    if (since !== undefined && !Number.isFinite(since))
      return reply.code(400).send({ message: 'since must be epoch milliseconds' });
    return fleet.journal(since);
  });
}
