import { describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import access from '../../profiles/assessments/authenticated-access.js';
import config from '../../profiles/assessments/authenticated-configuration.js';
import disclosure from '../../profiles/assessments/limited-disclosure.js';

let n = 0;
const obs = (key: string, value: Record<string, unknown>): Observation => ({ id: `obs-${++n}`, probe: 't', key, value, evidence: [`ev-${n}`] });
const svc = (port: number, protocol: string, transport = 'tcp'): Observation => obs('service.open', { port, transport, protocol, tls: false });
const mqttAnon = (value: Record<string, unknown>): Observation => obs('mqtt.anonymous', { port: 1883, connect: false, subscribeAll: false, publish: false, messagesSeen: 0, ...value });
const coap = (value: Record<string, unknown>): Observation => obs('coap.access', { port: 5683, secure: false, discovery: [], read: false, write: false, ...value });

describe('authenticated-access (5.5-4)', () => {
  const p = access.params.parse({});
  it('FAILs on anything reachable without a credential, naming each', () => {
    const r = access.assess({ observations: [svc(1883, 'mqtt'), mqttAnon({ connect: true }), svc(5683, 'coap', 'udp'), coap({ read: true }), obs('auth.none', { protocol: 'rtsp', port: 554, path: '/live' })] }, p);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toBe('rtsp on tcp/554 (/live) grants access without any credential, the MQTT broker on tcp/1883 accepts anonymous clients and CoAP on udp/5683 serves resources without authentication.');
  });
  it('FAILs DTLS that completes a handshake with a wrong key; an unanswered CoAP port was not checked', () => {
    const dtls = obs('coap.dtls', { port: 5684, noPsk: 'rejected-without-answer', wrongPsk: 'accepted' });
    expect(access.assess({ observations: [svc(5684, 'coaps', 'udp'), dtls] }, p)).toMatchObject({ verdict: 'FAIL', rationale: 'DTLS on udp/5684 completes a handshake with a wrong key.' });
    const silent = access.assess({ observations: [svc(5683, 'coap', 'udp'), coap({ answered: false })] }, p);
    expect(silent.verdict).toBe('INCONCLUSIVE');
  });

  it('PASSes only when every function-bearing service was asked', () => {
    const ssh = svc(22, 'ssh');
    const tested = obs('credentials.tested', { protocol: 'ssh', port: 22, stoppedBecause: 'key-only' });
    expect(access.assess({ observations: [ssh, tested, svc(1883, 'mqtt'), mqttAnon({})] }, p).verdict).toBe('PASS');
    const r = access.assess({ observations: [ssh, tested, svc(23, 'telnet')] }, p);
    expect(r).toMatchObject({ verdict: 'INCONCLUSIVE', rationale: expect.stringMatching(/telnet on tcp\/23 was not checked/) as unknown });
  });
});

describe('authenticated-configuration (5.5-5)', () => {
  const p = config.params.parse({});
  it('FAILs anonymous MQTT publish, unauthenticated CoAP create and open shells', () => {
    const r = config.assess({ observations: [mqttAnon({ connect: true, publish: true }), coap({ write: true }), obs('auth.none', { protocol: 'telnet', port: 23 })] }, p);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toBe('the MQTT broker on tcp/1883 accepts publishes from anonymous clients, CoAP on udp/5683 lets anyone create resources and telnet on tcp/23 gives a shell or management interface without any credential.');
  });
  it('an open RTSP stream is not a configuration finding; DTLS-protected writes are not anonymous', () => {
    const r = config.assess({ observations: [obs('auth.none', { protocol: 'rtsp', port: 554 }), coap({ write: true, secure: true, writeTested: true }), mqttAnon({})] }, p);
    expect(r.verdict).toBe('PASS');
    // A CoAP endpoint whose write test did not run is not evidence of protection.
    expect(config.assess({ observations: [coap({ writeTested: false })] }, p).verdict).toBe('INCONCLUSIVE');
  });
  it('counts CoAP behind DTLS that refuses a missing and a wrong key as checked', () => {
    const closed = obs('coap.dtls', { port: 5684, noPsk: 'alert', wrongPsk: 'rejected-without-answer' });
    expect(config.assess({ observations: [coap({ port: 5684, secure: true, writeTested: false }), closed] }, p)).toMatchObject({ verdict: 'PASS', observations: [closed.id] });
    // A handshake that timed out proves nothing.
    expect(config.assess({ observations: [obs('coap.dtls', { port: 5684, noPsk: 'no-answer', wrongPsk: 'alert' })] }, p).verdict).toBe('INCONCLUSIVE');
  });
  it('is INCONCLUSIVE when nothing was checked', () => {
    expect(config.assess({ observations: [svc(80, 'http')] }, p).verdict).toBe('INCONCLUSIVE');
  });
});

describe('limited-disclosure (5.6-2)', () => {
  const p = disclosure.params.parse({});
  it('FAILs when an anonymous subscriber receives traffic or $SYS, or discovery lists security-relevant resources', () => {
    const r = disclosure.assess({ observations: [mqttAnon({ connect: true, subscribeAll: true, messagesSeen: 12, sysTopics: 9 }), coap({ discovery: ['/sensors/temp', '/config/wifi'] })] }, p);
    expect(r.verdict).toBe('FAIL');
    expect(r.rationale).toBe('an anonymous subscriber on tcp/1883 received 12 message(s), 9 of them broker internals ($SYS) and CoAP discovery on udp/5683 lists /config/wifi to anyone.');
  });
  it('a plain resource list is for an assessor; nothing disclosed PASSes; nothing to check is INCONCLUSIVE', () => {
    expect(disclosure.assess({ observations: [coap({ discovery: ['/sensors/temp'] })] }, p).verdict).toBe('INCONCLUSIVE');
    expect(disclosure.assess({ observations: [mqttAnon({}), coap({ secure: true, discovery: ['/config'] })] }, p).verdict).toBe('PASS');
    expect(disclosure.assess({ observations: [] }, p).rationale).toMatch(/mDNS, SSDP and UPnP records are not probed/);
  });
  it('discovery behind DTLS is private only while the handshake refuses a client without the key', () => {
    const discovery = coap({ port: 5684, secure: true, discovery: ['/config'] });
    const closed = obs('coap.dtls', { port: 5684, noPsk: 'alert', wrongPsk: 'alert' });
    expect(disclosure.assess({ observations: [discovery, closed] }, p).verdict).toBe('PASS');
    expect(disclosure.assess({ observations: [closed] }, p).verdict).toBe('PASS');
    const open = obs('coap.dtls', { port: 5684, noPsk: 'accepted', wrongPsk: 'alert' });
    expect(disclosure.assess({ observations: [discovery, open] }, p)).toMatchObject({ verdict: 'FAIL', rationale: 'CoAP discovery on udp/5684 lists /config to anyone.' });
  });
});
