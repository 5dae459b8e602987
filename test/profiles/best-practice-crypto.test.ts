import { describe, expect, it } from 'vitest';
import type { DeclarationData } from '../../harness/declaration.js';
import type { Observation } from '../../harness/report-schema.js';
import crypto from '../../profiles/assessments/best-practice-crypto.js';

let n = 0;
const obs = (key: string, value: Record<string, unknown>): Observation => ({ id: `obs-${++n}`, probe: 't', key, value, evidence: [`ev-${n}`] });
const svc = (port: number, protocol: string, tls = false): Observation => obs('service.open', { port, transport: 'tcp', protocol, tls });
const versions = (port: number, offered: string[]): Observation => obs('tls.versions', { port, offered, notOffered: [] });
const ciphers = (port: number, weak: string[] = []): Observation => obs('tls.ciphers', { port, weak });
const cert = (port: number, extra: Record<string, unknown> = {}): Observation =>
  obs('tls.certificate', { port, subject: 'CN=dev', issuer: 'CN=Lab CA', selfSigned: false, chainValid: true, trustedBy: 'declaration', nameMatches: true, expired: false, keyType: 'ec', keyBits: 256, sigAlg: 'ecdsa-with-SHA256', weak: [], ...extra });
const anchored: DeclarationData = { trustAnchors: ['/lab/ca.pem'] };
const params = crypto.params.parse({});
const sound = (port: number) => [svc(port, 'https', true), versions(port, ['TLSv1.2', 'TLSv1.3']), ciphers(port), cert(port)];

describe('best-practice-crypto (5.5-1)', () => {
  it('PASSes TLS 1.2+ with no weak suite and a certificate valid for the declared anchors; SSH is not graded here', () => {
    const r = crypto.assess({ observations: [...sound(443), ...sound(8883).map((o) => (o.key === 'service.open' ? { ...o, value: { ...o.value, protocol: 'mqtts' } } : o)), svc(22, 'ssh')], declaration: anchored }, params);
    expect(r.verdict).toBe('PASS');
    expect(r.rationale).toBe('Every TLS service offers only TLSv1.2 or newer with no weak suite and a sound certificate: https on tcp/443 (TLSv1.2+TLSv1.3) and mqtts on tcp/8883 (TLSv1.2+TLSv1.3).');
  });

  it('FAILs old versions and weak classes, naming the service and the reason', () => {
    const r = crypto.assess({ observations: [svc(443, 'https', true), versions(443, ['TLSv1.0', 'TLSv1.1', 'TLSv1.2']), ciphers(443, ['DES/3DES', 'NULL']), cert(443)], declaration: anchored }, params);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toBe('https on tcp/443: offers TLSv1.0 and TLSv1.1, accepts DES/3DES and NULL cipher suites.');
  });

  it('FAILs intrinsically weak certificates even without declared anchors', () => {
    const r = crypto.assess({ observations: [svc(443, 'https', true), versions(443, ['TLSv1.3']), ciphers(443), cert(443, { weak: ['RSA key below 2048 bits', 'SHA-1 signature'], chainValid: false, trustedBy: null })] }, params);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toMatch(/certificate with RSA key below 2048 bits and SHA-1 signature/);
  });

  it('with declared anchors, a certificate that does not chain to them, or is for another name, FAILs', () => {
    const untrusted = crypto.assess({ observations: [svc(443, 'https', true), versions(443, ['TLSv1.3']), ciphers(443), cert(443, { chainValid: false, chainError: 'no path to a trusted anchor', selfSigned: true, weak: ['self-signed'] })], declaration: anchored }, params);
    expect(untrusted).toMatchObject({ verdict: 'FAIL', rationale: 'https on tcp/443: presents a certificate that does not validate against the declared trust anchors (no path to a trusted anchor).' });
    const wrongName = crypto.assess({ observations: [svc(443, 'https', true), versions(443, ['TLSv1.3']), ciphers(443), cert(443, { nameMatches: false, nameError: 'IP 10.9.9.9 not in SAN' })], declaration: anchored }, params);
    expect(wrongName.rationale).toMatch(/not issued for the address it answers on \(IP 10\.9\.9\.9 not in SAN\)/);
  });

  it('without anchors, a self-signed certificate is INCONCLUSIVE (it may be pinned), not PASS', () => {
    const r = crypto.assess({ observations: [svc(443, 'https', true), versions(443, ['TLSv1.3']), ciphers(443), cert(443, { chainValid: false, chainError: 'no path to a trusted anchor', selfSigned: true, weak: ['self-signed'] })] }, params);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.rationale).toMatch(/declaration names no trust anchors/);
  });

  it('FAILs cleartext credentials and cleartext MQTT, telnet, FTP and CoAP; plain HTTP fails only when it is a management interface', () => {
    const r = crypto.assess({ observations: [...sound(443), svc(1883, 'mqtt'), svc(23, 'telnet'), obs('cleartext.auth', { protocol: 'telnet', port: 23 })], declaration: anchored }, params);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toBe('telnet on tcp/23: takes credentials in cleartext, carries its traffic without TLS; mqtt on tcp/1883: carries its traffic without TLS.');
    const admin = crypto.assess({ observations: [svc(80, 'http'), obs('http.auth-challenge', { protocol: 'http', port: 80, paths: [{ path: '/admin', status: 401, scheme: 'Digest' }] })] }, params);
    expect(admin).toMatchObject({ verdict: 'FAIL', rationale: 'http on tcp/80: serves a login or management interface without TLS.' });
    const page = crypto.assess({ observations: [svc(80, 'http'), obs('http.auth-challenge', { protocol: 'http', port: 80, paths: [{ path: '/', status: 200 }] })] }, params);
    expect(page.verdict).toBe('INCONCLUSIVE');
  });

  it('a TLS service whose versions were not probed is INCONCLUSIVE; FAIL elsewhere still wins', () => {
    expect(crypto.assess({ observations: [svc(443, 'https', true)] }, params).verdict).toBe('INCONCLUSIVE');
    expect(crypto.assess({ observations: [svc(443, 'https', true), svc(23, 'telnet')] }, params).verdict).toBe('FAIL');
  });

  it('grades CoAP over DTLS from its handshake: DTLS 1.2 with an AEAD suite that refuses other keys PASSes; old, weak or keyless FAILs; no handshake is INCONCLUSIVE', () => {
    const coaps = (): Observation => obs('service.open', { port: 5684, transport: 'udp', protocol: 'coaps', tls: true });
    const dtls = (value: Record<string, unknown>): Observation =>
      obs('coap.dtls', { port: 5684, version: 'DTLSv1.2', cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8', declaredPsk: true, pskAccepted: true, noPsk: 'alert', wrongPsk: 'rejected-without-answer', ...value });
    const good = crypto.assess({ observations: [coaps(), dtls({})] }, params);
    expect(good).toMatchObject({ verdict: 'PASS', rationale: 'Every DTLS service negotiates DTLS 1.2 or newer with a strong suite and refuses a handshake without the right key: coaps on udp/5684 (DTLSv1.2, TLS_PSK_WITH_AES_128_CCM_8).' });
    // Beside TLS, both sentences.
    expect(crypto.assess({ observations: [...sound(443), coaps(), dtls({})], declaration: anchored }, params).rationale).toMatch(/^Every TLS service .*\. Every DTLS service .*\.$/);
    const old = crypto.assess({ observations: [coaps(), dtls({ version: 'DTLSv1.0', cipherSuite: 'TLS_PSK_WITH_3DES_EDE_CBC_SHA' })] }, params);
    expect(old).toMatchObject({ verdict: 'FAIL', rationale: 'coaps on udp/5684: negotiates DTLSv1.0, negotiates the weak suite TLS_PSK_WITH_3DES_EDE_CBC_SHA.' });
    expect(crypto.assess({ observations: [coaps(), dtls({ wrongPsk: 'accepted' })] }, params)).toMatchObject({ verdict: 'FAIL', rationale: 'coaps on udp/5684: completes a DTLS handshake without the right key.' });
    // Without the declared PSK no handshake completes: nothing to grade, and plain CoAP beside it still fails.
    const unknown = crypto.assess({ observations: [coaps(), dtls({ version: null, cipherSuite: null, declaredPsk: false, pskAccepted: null })] }, params);
    expect(unknown).toMatchObject({ verdict: 'INCONCLUSIVE', rationale: expect.stringMatching(/coaps on udp\/5684: speaks DTLS, but no handshake completed \(declare its PSK as coap\.psk\)/) as unknown });
    expect(crypto.assess({ observations: [coaps(), dtls({}), obs('service.open', { port: 5683, transport: 'udp', protocol: 'coap', tls: false })] }, params).verdict).toBe('FAIL');
  });
});
