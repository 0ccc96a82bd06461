import { createRequire } from 'node:module';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/*
 * History <-> Temporal's JSON history format (what `temporal workflow show --output json` writes).
 * Same code as historyToJSON/historyFromJSON in @temporalio/common/lib/proto-utils, which throw
 * "type must be a Type" with this lockfile: @temporalio/common and @temporalio/proto each get their
 * own nested copy of protobufjs 8 (the top-level one is grpc's protobufjs 7), and protojson checks
 * `instanceof Type` across the two copies. So use the protojson of the copy @temporalio/proto loads.
 */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

export function historyToJson(history: History): string {
  return JSON.stringify(
    protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)),
    null,
    2,
  );
}

export function historyFromJson(json: string): History {
  return protojson.fromJson(historyType, JSON.parse(json), { ignoreUnknownFields: true }) as History;
}

/**
 * A history as text to search: its JSON with every payload's `data` (base64 in the JSON format)
 * decoded, so an assertion or a secret scan sees what the workflow really wrote.
 */
export function historyText(history: History): string {
  return historyToJson(history).replace(
    /"data": "([A-Za-z0-9+/=]*)"/g,
    (_, data: string) => `"data": ${JSON.stringify(Buffer.from(data, 'base64').toString('utf8'))}`,
  );
}
