import { randomBytes } from 'node:crypto';
import type { TestCredential } from '../../harness/declaration.js';
import type { ProbeContext } from '../types.js';
import type { AttemptResult, CredentialSettings } from './login.js';
import type { Credential } from './credentials.js';

/** Protocol names a declaration may use for the same service. */
const SERVICE_ALIASES: Record<string, string[]> = { mqtts: ['mqtt'], https: ['http'], mqtt: ['mqtts'], http: ['https'] };

/**
 * Run the brute-force trial on this service when the declaration names a test account for it and the
 * trial is on. Login probes call it after their default-credential run, with the same attempt function.
 */
export async function runBruteForceTrial(
  ctx: ProbeContext<CredentialSettings>,
  protocol: string,
  attempt: (credential: Credential, signal: AbortSignal) => Promise<AttemptResult>,
): Promise<void> {
  if (!ctx.options.bruteForce || ctx.signal.aborted) return;
  const account = testAccountFor(ctx, protocol);
  if (account) await measureBruteForce(ctx, protocol, account, attempt);
}

/** The declared test account for this service, if the declaration names one. */
export function testAccountFor(ctx: ProbeContext<unknown>, protocol: string): TestCredential | undefined {
  const accounts = ctx.target.declaration?.data.credentials?.test ?? [];
  const names = [protocol, ...(SERVICE_ALIASES[protocol] ?? [])];
  return accounts.find((a) => names.includes(a.service) && (a.port === undefined || a.port === ctx.service.port));
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The brute-force trial (EN 303 645 5.1-5, TS 103 701 unit 5.1-5-2b): a bounded run of wrong passwords
 * against the declared test account, back to back, measuring how fast the device lets them through,
 * whether answers slow down, and whether it locks; then one attempt with the right password shows
 * whether the account itself was locked. Reported as `auth.bruteforce`. Never more than
 * `bruteForceAttempts` + 1 attempts, and it stops at the first lockout sign.
 */
export async function measureBruteForce(
  ctx: ProbeContext<CredentialSettings>,
  protocol: string,
  account: TestCredential,
  attempt: (credential: Credential, signal: AbortSignal) => Promise<AttemptResult>,
): Promise<void> {
  const { service } = ctx;
  const latencies: number[] = [];
  const evidence: string[] = [];
  let lockedAfter: number | undefined;
  let lockoutSignal: string | undefined;
  let unexpectedAccept = false;
  const started = performance.now();
  for (let i = 0; i < ctx.options.bruteForceAttempts && !ctx.signal.aborted; i++) {
    const wrong: Credential = { username: account.username, password: `wrong-${randomBytes(6).toString('hex')}`, source: 'brute-force' };
    const release = await ctx.net.acquireLoginSlot(ctx.target.ip);
    const t0 = performance.now();
    let result: AttemptResult;
    try {
      result = await attempt(wrong, AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.options.timeoutMs)]));
    } finally {
      release();
    }
    latencies.push(Math.round(performance.now() - t0));
    evidence.push(ctx.record(result.evidence));
    if (result.outcome === 'accepted') {
      unexpectedAccept = true;
      break;
    }
    if (result.outcome === 'locked' || result.outcome === 'unavailable') {
      lockedAfter = i + 1;
      lockoutSignal = result.outcome === 'locked' ? result.detail : `stopped answering: ${result.detail}`;
      break;
    }
  }
  const durationMs = Math.round(performance.now() - started);
  const wrongAttempts = latencies.length;
  // The right password last: refused now means the account (not just the client) was locked.
  let correctAccepted: boolean | undefined;
  if (!unexpectedAccept && !ctx.signal.aborted) {
    const release = await ctx.net.acquireLoginSlot(ctx.target.ip);
    try {
      const right = await attempt({ username: account.username, password: account.password, source: 'declaration' }, AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.options.timeoutMs)]));
      // The evidence of the right password's attempt would carry the test password: keep only the outcome.
      evidence.push(ctx.record({ kind: 'note', summary: `the declared test password, tried after ${wrongAttempts} wrong one(s): ${right.outcome}`, port: service.port, transport: 'tcp' }));
      correctAccepted = right.outcome === 'accepted';
      if (!correctAccepted && lockedAfter === undefined) {
        lockedAfter = wrongAttempts;
        lockoutSignal = `the right password was refused (${right.outcome}) after ${wrongAttempts} wrong ones`;
      }
    } finally {
      release();
    }
  }
  const quarter = Math.max(1, Math.floor(latencies.length / 4));
  const first = median(latencies.slice(0, quarter));
  const last = median(latencies.slice(-quarter));
  ctx.observe(
    'auth.bruteforce',
    {
      protocol,
      port: service.port,
      username: account.username,
      wrongAttempts,
      durationMs,
      attemptsPerSecond: durationMs > 0 ? Math.round((wrongAttempts / durationMs) * 1000 * 100) / 100 : wrongAttempts,
      latencyMs: { first, last, median: median(latencies), max: Math.max(0, ...latencies) },
      latencyGrowth: first > 0 ? Math.round((last / first) * 100) / 100 : 1,
      ...(lockedAfter === undefined ? {} : { lockedAfter, lockoutSignal }),
      ...(correctAccepted === undefined ? {} : { correctPasswordAcceptedAfter: correctAccepted }),
      ...(unexpectedAccept ? { wrongPasswordAccepted: true } : {}),
    },
    evidence,
  );
}
