import { z } from 'zod';
import type { EvidenceInput } from '../../harness/evidence.js';
import type { ProbeContext } from '../types.js';
import { type Credential, resolveCredentials, withoutDeclaredTestAccounts } from './credentials.js';

/**
 * Options every credential probe shares. Defaults are safe for fragile devices (docs/credentials.md):
 * one service tried at a time per connection, a pause between attempts, stop at the first success,
 * stop as soon as the device looks locked or stops answering.
 */
export const CredentialOptions = z.object({
  credentials: z.array(z.string()).default(['mirai', 'vendors']).describe('built-in list ids (probes/data) or files of username:password lines'),
  delayMs: z.number().int().min(0).max(60_000).default(100).describe('pause between two attempts on one service'),
  stopAtFirstSuccess: z.boolean().default(true).describe('stop trying a service once a default is accepted'),
  maxAttempts: z.number().int().min(1).max(10_000).default(500).describe('attempts per service at most'),
  lockoutAfter: z.number().int().min(1).max(100).default(3).describe('consecutive attempts the device refuses to answer, after it has answered, that count as a lockout'),
  timeoutMs: z.number().int().min(100).max(120_000).default(5000).describe('deadline for one attempt'),
  bruteForce: z.boolean().default(true).describe('after the defaults, run the brute-force trial against the declared test account, if there is one'),
  bruteForceAttempts: z.number().int().min(3).max(100).default(10).describe('wrong passwords in the brute-force trial (NIST SP 800-63B caps lockout at 100)'),
});

export type CredentialSettings = z.output<typeof CredentialOptions>;

/** What one attempt found. Every kind is data about the device; none is an exception. */
export type AttemptResult =
  /** The device granted access (a shell, a 2xx, CONNACK 0, ...). */
  | { outcome: 'accepted'; evidence: EvidenceInput }
  /** The device said no in its own protocol. */
  | { outcome: 'rejected'; evidence: EvidenceInput }
  /** The device said it is locking the account or the client out. */
  | { outcome: 'locked'; evidence: EvidenceInput; detail: string }
  /** No answer we can judge: refused, reset, timed out, garbage. */
  | { outcome: 'unavailable'; evidence: EvidenceInput; detail: string };

export type StopReason = 'exhausted' | 'first-success' | 'lockout' | 'unavailable' | 'budget' | 'aborted';

export interface LoginSummary {
  attempted: number;
  accepted: Credential[];
  rejected: number;
  stoppedBecause: StopReason;
  /** Milliseconds since the first attempt at which each attempt started: the politeness record. */
  startedAtMs: number[];
}

/** Wait, or stop waiting when the run is aborted; never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Try credentials against one service, politely: one attempt at a time on this service, each holding a
 * per-device login slot, `delayMs` between attempts, stop at the first success (when set), and stop
 * when the device locks or stops answering after it had been answering, so a device is never locked
 * out further than the first sign. Each attempt becomes `credentials.accepted` or
 * `credentials.rejected` with its evidence; a summary `credentials.tested` closes the service.
 */
export async function tryCredentials(
  ctx: ProbeContext<CredentialSettings>,
  protocol: string,
  attempt: (credential: Credential, signal: AbortSignal) => Promise<AttemptResult>,
  candidates?: readonly Credential[],
): Promise<LoginSummary> {
  const { options, service, target } = ctx;
  const all = candidates ?? resolveCredentials(options.credentials, protocol);
  const { kept, skipped } = withoutDeclaredTestAccounts(all, target.declaration?.data);
  const list = kept.slice(0, options.maxAttempts);
  const summary: LoginSummary = { attempted: 0, accepted: [], rejected: 0, stoppedBecause: 'exhausted', startedAtMs: [] };
  let consecutiveUnavailable = 0;
  let answeredOnce = false;
  const started = performance.now();
  for (const [i, credential] of list.entries()) {
    if (ctx.signal.aborted) {
      summary.stoppedBecause = 'aborted';
      break;
    }
    if (i > 0 && options.delayMs > 0) await pause(options.delayMs, ctx.signal);
    if (ctx.signal.aborted) {
      summary.stoppedBecause = 'aborted';
      break;
    }
    const release = await ctx.net.acquireLoginSlot(target.ip);
    let result: AttemptResult;
    try {
      summary.startedAtMs.push(Math.round(performance.now() - started));
      const deadline = AbortSignal.any([ctx.signal, AbortSignal.timeout(options.timeoutMs)]);
      result = await attempt(credential, deadline);
    } finally {
      release();
    }
    summary.attempted++;
    const value = { protocol, port: service.port, username: credential.username, password: credential.password, source: credential.source };
    if (result.outcome === 'accepted') {
      answeredOnce = true;
      consecutiveUnavailable = 0;
      summary.accepted.push(credential);
      ctx.observe('credentials.accepted', value, [result.evidence]);
      if (options.stopAtFirstSuccess) {
        summary.stoppedBecause = 'first-success';
        break;
      }
    } else if (result.outcome === 'rejected') {
      answeredOnce = true;
      consecutiveUnavailable = 0;
      summary.rejected++;
      ctx.observe('credentials.rejected', value, [result.evidence]);
    } else if (result.outcome === 'locked') {
      ctx.observe('auth.lockout', { protocol, port: service.port, afterAttempts: summary.attempted, signal: result.detail }, [result.evidence]);
      summary.stoppedBecause = 'lockout';
      break;
    } else {
      const ev = ctx.record(result.evidence);
      consecutiveUnavailable++;
      if (!answeredOnce && consecutiveUnavailable >= options.lockoutAfter) {
        summary.stoppedBecause = 'unavailable';
        ctx.observe('auth.unavailable', { protocol, port: service.port, afterAttempts: summary.attempted, reason: result.detail }, [ev]);
        break;
      }
      if (answeredOnce && consecutiveUnavailable >= options.lockoutAfter) {
        // It answered, then stopped answering: the commonest lockout on cheap devices. Stop here.
        ctx.observe('auth.lockout', { protocol, port: service.port, afterAttempts: summary.attempted, signal: `stopped answering after ${summary.attempted - consecutiveUnavailable} answered attempts: ${result.detail}` }, [ev]);
        summary.stoppedBecause = 'lockout';
        break;
      }
    }
  }
  if (summary.stoppedBecause === 'exhausted' && kept.length > list.length) summary.stoppedBecause = 'budget';
  ctx.observe(
    'credentials.tested',
    {
      protocol,
      port: service.port,
      lists: options.credentials,
      candidates: list.length,
      attempted: summary.attempted,
      accepted: summary.accepted.length,
      rejected: summary.rejected,
      stoppedBecause: summary.stoppedBecause,
      skippedDeclaredTestAccounts: skipped,
      delayMs: options.delayMs,
    },
    [{ kind: 'note', summary: `${protocol} on tcp/${service.port}: ${summary.attempted} of ${list.length} default credential(s) tried, ${summary.accepted.length} accepted, stopped: ${summary.stoppedBecause}`, port: service.port, transport: 'tcp', data: { startedAtMs: summary.startedAtMs } }],
  );
  return summary;
}
