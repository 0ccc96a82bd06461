import { ApplicationFailure } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import type { TrinoClusterApi } from '../integrations/trino/types';

/** Type of the refusal when a shape selector needs the gateway's request analyzer and it is off. */
export const REQUEST_ANALYZER_DISABLED = 'RequestAnalyzerDisabled';

/**
 * The probe statement: a read of a constant that mentions `kill_query`. Trino Gateway 20 exposes
 * its configuration nowhere, but for a POST whose body mentions `kill_query` it reads the request
 * analyzer's `trinoQueryProperties` to find a query id (ProxyUtils.extractQueryIdIfPresent); without
 * `requestAnalyzerConfig.analyzeRequest` that attribute is null and the gateway answers HTTP 500
 * before routing. With the analyzer the statement (not a CALL) carries no query id and runs as any
 * other on a backend, returning one row.
 */
/** The gateway's answer when the group chosen (and the default group) has no active backend. */
const NO_BACKEND = /Number of active backends found zero/;

export const ANALYZER_PROBE_SQL = "SELECT 'kill_query' AS cutover_request_analyzer_probe";

/**
 * Refuses (non-retryable) when the gateway runs without its request analyzer, which a canary rule
 * reading the query's shape needs: without it the rule's `trinoQueryProperties` does not exist and
 * the gateway fails every request the rule evaluates. Other failures are retried.
 */
export async function checkRequestAnalyzer(
  /** A Trino client whose base URL is the gateway's. */
  throughGateway: TrinoClusterApi,
  gatewayUrl: string,
  routingGroup: string,
  timeoutMs: number,
): Promise<void> {
  try {
    // The group header reaches blue where a rule honours it; else the default group serves the probe.
    await throughGateway.execute(ANALYZER_PROBE_SQL, {
      source: 'cutover-preflight',
      headers: { 'X-Trino-Routing-Group': routingGroup },
      timeoutMs,
    });
  } catch (error) {
    // A group without an active backend fails later, in routing: the analyzer's check was passed.
    if (error instanceof IntegrationError && error.status === 500 && !NO_BACKEND.test(error.message)) {
      throw ApplicationFailure.nonRetryable(
        `the gateway at ${gatewayUrl} runs without its request analyzer, which canary.selector's queryTypes, catalogs and schemas need ` +
          `(a probe statement mentioning kill_query got HTTP 500, as Trino Gateway answers when requestAnalyzerConfig.analyzeRequest is false): ` +
          'set requestAnalyzerConfig.analyzeRequest: true in the gateway configuration and restart it, or select by users, source, client tags or time only',
        REQUEST_ANALYZER_DISABLED,
      );
    }
    throw error;
  }
}
