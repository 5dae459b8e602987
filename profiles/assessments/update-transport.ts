import { z } from 'zod';
import { asText, byKey, defineAssessment, listText } from './types.js';

const OLD_TLS = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1'];

/**
 * Update mechanism protected by best-practice cryptography (EN 303 645 5.3-7): every declared update
 * URL is HTTPS with TLS 1.2 or newer and a certificate valid for the declared anchors and the host,
 * and, when signing is declared, the image's signature verifies. Plain HTTP or an invalid certificate
 * fails it. Without declared update URLs there is nothing to check.
 */
export default defineAssessment({
  id: 'update-transport',
  description: 'Every declared update endpoint uses TLS 1.2+ with a valid certificate (and a valid signature when signing is declared).',
  params: z.strictObject({}),
  assess({ observations, declaration }) {
    const urls = declaration?.update?.urls ?? [];
    if (urls.length === 0) return { verdict: 'NOT_ASSESSED', basis: 'conceptual', rationale: 'No update URLs are declared (update.urls), so the update channel could not be checked.', observations: [] };
    const endpoints = byKey(observations, 'update.endpoint');
    const fails: string[] = [];
    const open: string[] = [];
    for (const url of urls) {
      const e = endpoints.find((o) => o.value.url === url);
      if (!e) {
        open.push(`${url} was not checked`);
        continue;
      }
      const v = e.value;
      if (v.inScope === false) {
        open.push(`${url} is outside the run's scope and was not contacted`);
        continue;
      }
      if (v.https !== true) {
        fails.push(`${url} is fetched over plain HTTP`);
        continue;
      }
      const old = (Array.isArray(v.tlsVersions) ? v.tlsVersions.map(String) : []).filter((x) => OLD_TLS.includes(x));
      if (old.length) fails.push(`${url} offers ${listText(old)}`);
      const cert = (v.certificate ?? {}) as Record<string, unknown>;
      if (v.certValid !== true) fails.push(`${url} presents an invalid certificate (${asText(cert.chainError, cert.nameMatches === false ? 'name mismatch' : 'not valid')})`);
      if (declaration?.update?.signing && v.signatureValid !== true) fails.push(`${url}: the image signature ${v.signatureChecked === true ? `does not verify (${asText(v.signatureError, 'invalid')})` : 'was not checked'}`);
    }
    const ids = endpoints.map((o) => o.id);
    if (fails.length) return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(fails)}.`, observations: ids };
    if (open.length) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `${listText(open)}.`, observations: ids };
    return {
      verdict: 'PASS',
      basis: 'functional',
      rationale: `Every declared update URL (${urls.length}) uses TLS 1.2 or newer with a valid certificate${declaration?.update?.signing ? ', and the image signature verifies' : ''}.`,
      observations: ids,
    };
  },
});
