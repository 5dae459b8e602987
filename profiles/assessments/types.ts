import type { z } from 'zod';
import type { DeclarationData } from '../../harness/declaration.js';
import type { Observation, Verdict } from '../../harness/report-schema.js';

/** What an assessment sees of one target: facts and claims, never sockets. */
export interface AssessmentInput {
  observations: readonly Observation[];
  declaration?: DeclarationData;
  /** The run's start: dates in a declaration are judged against it, never against a clock. */
  now?: Date;
}

export interface AssessmentResult {
  verdict: Verdict;
  basis: 'functional' | 'conceptual';
  /** One sentence a lab can file: names the service and the reason. */
  rationale: string;
  /** Observation ids behind the verdict; their evidence ids are collected from them. */
  observations: string[];
}

/** A pure judgement shared by every scheme that needs it; the crosswalk lives in the profiles. */
export interface Assessment<P extends z.ZodType = z.ZodType> {
  id: string;
  description: string;
  params: P;
  assess(input: AssessmentInput, params: z.output<P>): AssessmentResult;
}

export function defineAssessment<P extends z.ZodType>(a: Assessment<P>): Assessment<P> {
  return a;
}

export function byKey(observations: readonly Observation[], key: string): Observation[] {
  return observations.filter((o) => o.key === key);
}

/** A string or number from an observation value as text; anything else as `fallback`. */
export function asText(v: unknown, fallback: string): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : fallback;
}

/** `telnet on tcp/23` */
export function serviceLabel(value: Record<string, unknown>): string {
  return `${asText(value.protocol, 'unknown')} on ${asText(value.transport, 'tcp')}/${asText(value.port, '?')}`;
}

/** `a`, `a and b`, `a, b and 3 more` */
export function listText(items: readonly string[], max = 4): string {
  if (items.length <= 1) return items[0] ?? '';
  const shown = items.slice(0, max);
  const rest = items.length - shown.length;
  if (rest > 0) return `${shown.join(', ')} and ${rest} more`;
  return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1) ?? ''}`;
}

/** How a DTLS handshake with a missing or wrong key ended, when the device refused it. */
const DTLS_REFUSED = new Set(['alert', 'rejected-without-answer']);

/**
 * A `coap.dtls` observation whose port refused both a handshake without a key and one with a wrong
 * key: an anonymous client cannot get in there.
 */
export function dtlsClosedToAnonymous(o: Observation): boolean {
  return DTLS_REFUSED.has(asText(o.value.noPsk, '')) && DTLS_REFUSED.has(asText(o.value.wrongPsk, ''));
}

/** A `coap.dtls` observation whose port completed a handshake without the right key. */
export function dtlsOpenToAnonymous(o: Observation): boolean {
  return o.value.noPsk === 'accepted' || o.value.wrongPsk === 'accepted';
}

