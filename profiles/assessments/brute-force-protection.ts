import { z } from 'zod';
import { byKey, defineAssessment, listText, serviceLabel } from './types.js';

/**
 * Brute-force protection (EN 303 645 5.1-5, EN 18031 AUM-6, JC-STAR S1.1-04). The standard gives no
 * number; the defaults follow the one public TS 103 701 functional script (at least 1 s per failed
 * attempt, i.e. at most ~1 attempt/s) and NIST SP 800-63B (lock within 100 failures). A service is
 * protected when it locks, refuses the right password after the trial, slows answers markedly, or
 * never lets wrong attempts through faster than the rate limit.
 */
export default defineAssessment({
  id: 'brute-force-protection',
  description: 'Every login service limits password guessing: it locks, slows down, or rate-limits failed attempts.',
  params: z.strictObject({
    maxAttemptsPerSecond: z.number().positive().default(1.12).describe('sustained wrong attempts per second above which a service is unprotected'),
    minLatencyGrowth: z.number().min(1).default(2).describe('answers this many times slower at the end than at the start count as increasing delays'),
    minLatencyIncreaseMs: z.number().min(0).default(250).describe('and at least this much slower in absolute terms: on a LAN, jitter alone can double a 3 ms answer'),
  }),
  assess({ observations }, params) {
    const trials = byKey(observations, 'auth.bruteforce');
    if (trials.length === 0) {
      return {
        verdict: 'INCONCLUSIVE',
        basis: 'functional',
        rationale: 'No brute-force trial ran: declare a test account (credentials.test) for each login service so the harness can measure its protection.',
        observations: [],
      };
    }
    const weak: string[] = [];
    const strong: string[] = [];
    for (const t of trials) {
      const v = t.value;
      const label = serviceLabel(v);
      if (v.wrongPasswordAccepted === true) {
        weak.push(`${label} accepted a wrong password`);
        continue;
      }
      const growth = Number(v.latencyGrowth ?? 1);
      const latency = (v.latencyMs ?? {}) as { first?: number; last?: number };
      const slower = growth >= params.minLatencyGrowth && Number(latency.last ?? 0) - Number(latency.first ?? 0) >= params.minLatencyIncreaseMs;
      const rate = Number(v.attemptsPerSecond ?? 0);
      if (v.lockedAfter !== undefined) strong.push(`${label} locked after ${Number(v.lockedAfter)} wrong attempt(s)`);
      else if (slower) strong.push(`${label} slowed its answers ${growth}x (${Number(latency.first)} ms to ${Number(latency.last)} ms)`);
      else if (rate <= params.maxAttemptsPerSecond) strong.push(`${label} allowed only ${rate} attempt(s)/s`);
      else weak.push(`${label} took ${Number(v.wrongAttempts)} wrong passwords at ${rate}/s without locking or slowing down`);
    }
    const ids = trials.map((t) => t.id);
    if (weak.length > 0) return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(weak)}.`, observations: ids };
    return { verdict: 'PASS', basis: 'functional', rationale: `${listText(strong)}.`, observations: ids };
  },
});
