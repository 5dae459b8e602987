import { describe, expect, it } from 'vitest';
import type { DeclarationData } from '../../harness/declaration.js';
import type { Observation } from '../../harness/report-schema.js';
import bruteForce from '../../profiles/assessments/brute-force-protection.js';
import noDefaults from '../../profiles/assessments/no-default-credentials.js';

let n = 0;
const obs = (key: string, value: Record<string, unknown>): Observation => ({ id: `obs-${++n}`, probe: 'test', key, value, evidence: [`ev-${n}`] });
const open = (port: number, protocol: string): Observation => obs('service.open', { port, transport: 'tcp', protocol, tls: false });
const tested = (port: number, protocol: string, stoppedBecause = 'exhausted', attempted = 60): Observation =>
  obs('credentials.tested', { port, protocol, attempted, accepted: 0, rejected: attempted, stoppedBecause });
const decl = (model: 'unique-per-device' | 'user-defined' | 'none'): DeclarationData => ({ trustAnchors: [], credentials: { model, test: [] } });

describe('no-default-credentials (5.1-1)', () => {
  const params = noDefaults.params.parse({});

  it('FAILs on any accepted default, naming service, pair and list', () => {
    const accepted = obs('credentials.accepted', { protocol: 'telnet', port: 23, username: 'root', password: 'xc3511', source: 'mirai' });
    const r = noDefaults.assess({ observations: [open(23, 'telnet'), tested(23, 'telnet', 'first-success', 1), accepted], declaration: decl('unique-per-device') }, params);
    expect(r).toEqual({ verdict: 'FAIL', basis: 'functional', rationale: 'telnet on tcp/23 accepted root/xc3511 (mirai list): a well-known default credential grants access.', observations: [accepted.id] });
  });

  it('PASSes only when every login service was tested to the end and the declaration claims unique or user-defined passwords', () => {
    const observations = [open(22, 'ssh'), open(1883, 'mqtt'), open(80, 'http'), tested(22, 'ssh'), tested(1883, 'mqtt', 'anonymous-accepted', 0), tested(80, 'http', 'no-auth-challenge', 0)];
    const r = noDefaults.assess({ observations, declaration: decl('user-defined') }, params);
    expect(r.verdict).toBe('PASS');
    expect(r.rationale).toBe('None of the 3 login service(s) accepted any of 60 default credential attempt(s), and the declaration states user-defined passwords.');
  });

  it.each([
    ['an untested login service', [open(22, 'ssh'), open(23, 'telnet'), tested(22, 'ssh')], /telnet on tcp\/23 was not tested/],
    ['a service that locked', [open(22, 'ssh'), tested(22, 'ssh', 'lockout', 4)], /ssh on tcp\/22 testing stopped early \(lockout after 4 attempts\)/],
    ['a list cut by the budget', [open(22, 'ssh'), tested(22, 'ssh', 'budget', 500)], /stopped early \(budget/],
  ])('is INCONCLUSIVE with %s', (_name, observations, reason) => {
    const r = noDefaults.assess({ observations, declaration: decl('unique-per-device') }, params);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.rationale).toMatch(reason);
  });

  it('is INCONCLUSIVE without a declared password model: one unit cannot prove uniqueness', () => {
    const r = noDefaults.assess({ observations: [open(22, 'ssh'), tested(22, 'ssh')] }, params);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.rationale).toMatch(/no declaration states how passwords are made unique/);
  });

  it('is NOT_APPLICABLE when the device declares no passwords and has no login service', () => {
    expect(noDefaults.assess({ observations: [open(5683, 'coap')], declaration: decl('none') }, params).verdict).toBe('NOT_APPLICABLE');
  });
});

describe('brute-force-protection (5.1-5)', () => {
  const params = bruteForce.params.parse({});
  const trial = (value: Record<string, unknown>): Observation => obs('auth.bruteforce', { protocol: 'ssh', port: 22, username: 'lab', wrongAttempts: 10, durationMs: 500, attemptsPerSecond: 20, latencyGrowth: 1, ...value });

  it('FAILs a service that takes wrong passwords fast without locking or slowing', () => {
    const t = trial({});
    const r = bruteForce.assess({ observations: [t] }, params);
    expect(r).toEqual({ verdict: 'FAIL', basis: 'functional', rationale: 'ssh on tcp/22 took 10 wrong passwords at 20/s without locking or slowing down.', observations: [t.id] });
  });

  it.each([
    ['a lockout', { lockedAfter: 5, lockoutSignal: 'too many' }, /locked after 5 wrong attempt/],
    ['growing delays', { latencyGrowth: 4, latencyMs: { first: 100, last: 400 } }, /slowed its answers 4x \(100 ms to 400 ms\)/],
    ['a rate limit', { attemptsPerSecond: 0.9 }, /allowed only 0\.9 attempt\(s\)\/s/],
  ])('PASSes on %s', (_name, value, reason) => {
    const r = bruteForce.assess({ observations: [trial(value)] }, params);
    expect(r.verdict).toBe('PASS');
    expect(r.rationale).toMatch(reason);
  });

  it('jitter on a fast link is not back-off: twice as slow but only a few ms more does not pass', () => {
    const r = bruteForce.assess({ observations: [trial({ latencyGrowth: 2.5, latencyMs: { first: 2, last: 5 } })] }, params);
    expect(r.verdict).toBe('FAIL');
  });

  it('one unprotected service fails the device even if another locks', () => {
    const r = bruteForce.assess({ observations: [trial({ lockedAfter: 3 }), trial({ protocol: 'telnet', port: 23 })] }, params);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toMatch(/^telnet on tcp\/23 took/);
  });

  it('is INCONCLUSIVE without a trial, saying how to get one', () => {
    expect(bruteForce.assess({ observations: [] }, params).rationale).toMatch(/declare a test account/);
  });
});
