import { z } from 'zod';
import type { Observation } from '../../harness/report-schema.js';
import { asText, byKey, defineAssessment, dtlsOpenToAnonymous, listText, serviceLabel } from './types.js';

const VERSION_ORDER = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** Protocols that carry credentials, commands or device data, and have no encryption of their own. */
const CLEARTEXT_ALWAYS = new Set(['telnet', 'ftp', 'mqtt', 'coap']);
/** Plain protocols that are fine for public content and a failure for management or private data. */
const CLEARTEXT_IF_MANAGED = new Set(['http', 'rtsp']);
/** Protocols with their own cryptography that this assessment does not grade. */
const OWN_CRYPTO = new Set(['ssh']);
/** CoAP over DTLS: graded from the coap-access probe's handshake (`coap.dtls`). */
const DTLS = new Set(['coaps', 'dtls']);
/** DTLS versions below 1.2 (DTLS 1.0 is TLS 1.1's datagram twin). */
const OLD_DTLS = new Set(['DTLSv1.0']);
/** Suite names that are weak whatever the version. */
const WEAK_SUITE = /NULL|EXPORT|anon|RC4|3DES|_DES_/i;

type Finding = { level: 'fail' | 'inconclusive'; service: string; port: number; reason: string; obs: string[] };

/** `telnet on tcp/23: takes credentials in cleartext, carries its traffic without TLS; https on tcp/443: offers TLSv1.0` */
function describe(findings: readonly Finding[]): string {
  const byService = new Map<string, { port: number; reasons: string[] }>();
  for (const f of findings) {
    const entry = byService.get(f.service) ?? { port: f.port, reasons: [] };
    if (!entry.reasons.includes(f.reason)) entry.reasons.push(f.reason);
    byService.set(f.service, entry);
  }
  return [...byService.entries()]
    .sort((a, b) => a[1].port - b[1].port)
    .map(([service, e]) => `${service}: ${e.reasons.join(', ')}`)
    .join('; ');
}

const at = (list: readonly Observation[], port: unknown): Observation | undefined => list.find((o) => o.value.port === port);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/**
 * Best-practice cryptography on every network service (EN 303 645 5.5-1; the yardstick of 5.1-3,
 * 5.3-7, 5.8-x). Thresholds from the crosswalk (d)3 / NIST SP 800-52r2: nothing below TLS 1.2; no NULL,
 * EXPORT, anonymous, RC4 or DES/3DES suite; RSA keys of 2048 bits or more; no SHA-1/MD5 signatures;
 * certificates in date, and valid for the declared trust anchors and the address used. Credentials or
 * device traffic in cleartext fail too. FAIL outranks INCONCLUSIVE.
 */
export default defineAssessment({
  id: 'best-practice-crypto',
  description: 'Every service carrying security-relevant data is protected with TLS 1.2 or newer, strong suites and a sound certificate; nothing security-relevant travels in cleartext.',
  params: z.strictObject({
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  }),
  assess({ observations, declaration }, params) {
    const services = byKey(observations, 'service.open');
    const versions = byKey(observations, 'tls.versions');
    const ciphers = byKey(observations, 'tls.ciphers');
    const certs = byKey(observations, 'tls.certificate');
    const cleartext = byKey(observations, 'cleartext.auth');
    const dtls = byKey(observations, 'coap.dtls');
    const dtlsOk: string[] = [];
    const challenges = [...byKey(observations, 'http.auth-challenge'), ...byKey(observations, 'rtsp.auth-challenge')];
    const none = byKey(observations, 'auth.none');
    const anchors = (declaration?.trustAnchors.length ?? 0) > 0;
    const findings: Finding[] = [];
    const protectedOk: string[] = [];
    const minIndex = VERSION_ORDER.indexOf(params.minVersion);

    for (const c of cleartext) findings.push({ level: 'fail', service: serviceLabel(c.value), port: Number(c.value.port), reason: `takes credentials in cleartext`, obs: [c.id] });

    for (const svc of services) {
      const v = svc.value;
      const label = serviceLabel(v);
      const protocol = String(v.protocol);
      if (v.tls === true && !OWN_CRYPTO.has(protocol) && !DTLS.has(protocol)) {
        const ver = at(versions, v.port);
        if (!ver) {
          findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: `speaks TLS but its versions were not probed`, obs: [svc.id] });
          continue;
        }
        const before = findings.length;
        const old = strings(ver.value.offered).filter((x) => VERSION_ORDER.indexOf(x) >= 0 && VERSION_ORDER.indexOf(x) < minIndex);
        if (old.length) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `offers ${listText(old)}`, obs: [ver.id] });
        const weak = at(ciphers, v.port);
        const classes = strings(weak?.value.weak);
        if (weak && classes.length) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `accepts ${listText(classes)} cipher suites`, obs: [weak.id] });
        const cert = at(certs, v.port);
        if (!cert) findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: 'no certificate could be read', obs: [ver.id] });
        else {
          const c = cert.value;
          const intrinsic = strings(c.weak).filter((w) => !/self-signed|name mismatch|no path|not trusted/i.test(w));
          if (intrinsic.length) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `presents a certificate with ${listText(intrinsic)}`, obs: [cert.id] });
          if (anchors) {
            if (c.chainValid !== true) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `presents a certificate that does not validate against the declared trust anchors (${asText(c.chainError, 'invalid')})`, obs: [cert.id] });
            else if (c.nameMatches !== true) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `presents a certificate not issued for the address it answers on (${asText(c.nameError, 'name mismatch')})`, obs: [cert.id] });
          } else if (c.chainValid !== true) {
            findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: `presents a certificate no public anchor trusts (${asText(c.chainError, 'untrusted')}) and the declaration names no trust anchors to check it against`, obs: [cert.id] });
          }
        }
        if (findings.length === before) protectedOk.push(`${label} (${strings(ver.value.offered).join('+')})`);
        continue;
      }
      if (DTLS.has(protocol)) {
        const handshake = at(dtls, v.port);
        const version = asText(handshake?.value.version, '');
        const suite = asText(handshake?.value.cipherSuite, '');
        if (!handshake || version === '') {
          findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: 'speaks DTLS, but no handshake completed (declare its PSK as coap.psk) so its version and suite are unknown', obs: [svc.id, ...(handshake ? [handshake.id] : [])] });
          continue;
        }
        const before = findings.length;
        if (OLD_DTLS.has(version)) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `negotiates ${version}`, obs: [handshake.id] });
        if (WEAK_SUITE.test(suite)) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `negotiates the weak suite ${suite}`, obs: [handshake.id] });
        if (dtlsOpenToAnonymous(handshake)) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: 'completes a DTLS handshake without the right key', obs: [handshake.id] });
        if (findings.length === before) dtlsOk.push(`${label} (${version}, ${suite})`);
        continue;
      }
      if (OWN_CRYPTO.has(protocol)) continue;
      if (CLEARTEXT_ALWAYS.has(protocol)) {
        findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `carries its traffic without TLS`, obs: [svc.id] });
        continue;
      }
      if (CLEARTEXT_IF_MANAGED.has(protocol)) {
        const managed = [...challenges.filter((o) => o.value.port === v.port && JSON.stringify(o.value.paths ?? []).match(/"status":\s*401/)), ...none.filter((o) => o.value.port === v.port)];
        if (managed.length) findings.push({ level: 'fail', service: label, port: Number(v.port), reason: `serves a login or management interface without TLS`, obs: [svc.id, ...managed.map((o) => o.id)] });
        else findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: `serves content without TLS; whether it is security-relevant needs an assessor`, obs: [svc.id] });
        continue;
      }
      findings.push({ level: 'inconclusive', service: label, port: Number(v.port), reason: 'what it carries and how it is protected is unknown', obs: [svc.id] });
    }

    const fails = findings.filter((f) => f.level === 'fail');
    if (fails.length) return { verdict: 'FAIL', basis: 'functional', rationale: `${describe(fails)}.`, observations: [...new Set(fails.flatMap((f) => f.obs))] };
    const open = findings.filter((f) => f.level === 'inconclusive');
    if (open.length) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `No weak cryptography found, but ${describe(open)}.`, observations: [...new Set(open.flatMap((f) => f.obs))] };
    if (protectedOk.length + dtlsOk.length === 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No service carrying data was found to assess.', observations: services.map((s) => s.id) };
    const tlsText = protectedOk.length ? `Every TLS service offers only ${params.minVersion} or newer with no weak suite and a sound certificate: ${listText(protectedOk)}.` : '';
    const dtlsText = dtlsOk.length ? `Every DTLS service negotiates DTLS 1.2 or newer with a strong suite and refuses a handshake without the right key: ${listText(dtlsOk)}.` : '';
    return {
      verdict: 'PASS',
      basis: 'functional',
      rationale: [tlsText, dtlsText].filter((t) => t !== '').join(' '),
      observations: [...versions, ...ciphers, ...certs, ...dtls].map((o) => o.id),
    };
  },
});
