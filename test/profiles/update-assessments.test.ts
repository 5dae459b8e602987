import { describe, expect, it } from 'vitest';
import type { DeclarationData } from '../../harness/declaration.js';
import type { Observation } from '../../harness/report-schema.js';
import disclosure from '../../profiles/assessments/declared-disclosure-policy.js';
import support from '../../profiles/assessments/declared-support-period.js';
import mechanism from '../../profiles/assessments/update-mechanism.js';
import signature from '../../profiles/assessments/update-signature.js';
import transport from '../../profiles/assessments/update-transport.js';

let n = 0;
const URL_A = 'https://127.0.0.5/fw/cam.bin';
const endpoint = (value: Record<string, unknown>): Observation => ({
  id: `obs-${++n}`,
  probe: 'update-endpoint',
  key: 'update.endpoint',
  value: { url: URL_A, inScope: true, https: true, tlsVersions: ['TLSv1.2', 'TLSv1.3'], certValid: true, certificate: { nameMatches: true }, plaintextReachable: false, signatureChecked: true, signatureValid: true, ...value },
  evidence: [`ev-${n}`],
});
const decl = (extra: Partial<DeclarationData> = {}): DeclarationData => ({ trustAnchors: [], update: { urls: [URL_A], signing: { algorithm: 'ed25519', publicKey: '/k.pub' } }, ...extra });
const NOW = new Date('2026-11-21T12:00:00Z');

describe('update-transport (5.3-7)', () => {
  const p = transport.params.parse({});
  it('PASSes TLS 1.2+ with a valid certificate and a valid signature', () => {
    expect(transport.assess({ observations: [endpoint({})], declaration: decl() }, p)).toMatchObject({ verdict: 'PASS', rationale: 'Every declared update URL (1) uses TLS 1.2 or newer with a valid certificate, and the image signature verifies.' });
  });
  it.each([
    ['plain HTTP', { https: false }, /is fetched over plain HTTP/],
    ['an invalid certificate', { certValid: false, certificate: { chainError: 'no path to a trusted anchor' } }, /presents an invalid certificate \(no path to a trusted anchor\)/],
    ['TLS 1.0', { tlsVersions: ['TLSv1.0', 'TLSv1.2'] }, /offers TLSv1\.0/],
    ['a bad signature', { signatureValid: false, signatureError: 'signature does not verify' }, /the image signature does not verify/],
  ])('FAILs %s', (_n, value, reason) => {
    const r = transport.assess({ observations: [endpoint(value)], declaration: decl() }, p);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toMatch(reason);
  });
  it('is NOT_ASSESSED without declared URLs and INCONCLUSIVE for an out-of-scope URL', () => {
    expect(transport.assess({ observations: [] }, p).verdict).toBe('NOT_ASSESSED');
    expect(transport.assess({ observations: [endpoint({ inScope: false })], declaration: decl() }, p)).toMatchObject({ verdict: 'INCONCLUSIVE', rationale: `${URL_A} is outside the run's scope and was not contacted.` });
  });
});

describe('update-signature (5.3-9, 5.3-10)', () => {
  const p = signature.params.parse({});
  it('PASSes a verifying image, FAILs a tampered or unsigned one, and needs a declared key', () => {
    expect(signature.assess({ observations: [endpoint({})], declaration: decl() }, p).verdict).toBe('PASS');
    const bad = signature.assess({ observations: [endpoint({ signatureValid: false, signatureError: 'signature does not verify' })], declaration: decl() }, p);
    expect(bad).toMatchObject({ verdict: 'FAIL', rationale: `the image at ${URL_A} fails signature verification (signature does not verify).` });
    const missing = signature.assess({ observations: [endpoint({ signatureChecked: false, signatureValid: undefined, signatureError: 'no signature at .sig (404)' })], declaration: decl() }, p);
    expect(missing.rationale).toMatch(/has no verifiable signature \(no signature at \.sig \(404\)\)/);
    expect(signature.assess({ observations: [endpoint({})], declaration: { trustAnchors: [], update: { urls: [URL_A] } } }, p).verdict).toBe('INCONCLUSIVE');
  });
});

describe('update-mechanism (5.3-2)', () => {
  it('is INCONCLUSIVE with what the endpoint showed, NOT_ASSESSED without a declaration', () => {
    const p = mechanism.params.parse({});
    expect(mechanism.assess({ observations: [endpoint({})], declaration: decl() }, p)).toMatchObject({ verdict: 'INCONCLUSIVE', rationale: expect.stringMatching(/\(HTTPS, valid certificate, signature valid\); how the device fetches/) as unknown });
    expect(mechanism.assess({ observations: [] }, p).verdict).toBe('NOT_ASSESSED');
  });
});

describe('declaration checks (conceptual)', () => {
  it('5.3-13: a future end with a published location PASSes, a past end FAILs, judged at the run time', () => {
    const p = support.params.parse({});
    expect(support.assess({ observations: [], declaration: { trustAnchors: [], supportPeriod: { end: '2030-12-31', published: 'https://acme.example/support' } }, now: NOW }, p)).toMatchObject({ verdict: 'PASS', basis: 'conceptual' });
    expect(support.assess({ observations: [], declaration: { trustAnchors: [], supportPeriod: { end: '2025-01-01' } }, now: NOW }, p)).toMatchObject({ verdict: 'FAIL', rationale: 'The declared support period ended on 2025-01-01.' });
    expect(support.assess({ observations: [], declaration: { trustAnchors: [], supportPeriod: { end: '2030-12-31' } }, now: NOW }, p).verdict).toBe('INCONCLUSIVE');
    expect(support.assess({ observations: [], declaration: { trustAnchors: [] }, now: NOW }, p).verdict).toBe('FAIL');
    expect(support.assess({ observations: [], now: NOW }, p).verdict).toBe('NOT_ASSESSED');
  });
  it('5.2-1: a published policy PASSes (conceptually), a contact alone is INCONCLUSIVE, nothing FAILs', () => {
    const p = disclosure.params.parse({});
    expect(disclosure.assess({ observations: [], declaration: { trustAnchors: [], vulnerabilityDisclosure: { url: 'https://acme.example/security', contact: 'security@acme.example' } } }, p)).toMatchObject({ verdict: 'PASS', basis: 'conceptual' });
    expect(disclosure.assess({ observations: [], declaration: { trustAnchors: [], vulnerabilityDisclosure: { contact: 'security@acme.example' } } }, p).verdict).toBe('INCONCLUSIVE');
    expect(disclosure.assess({ observations: [], declaration: { trustAnchors: [] } }, p).verdict).toBe('FAIL');
  });
});
