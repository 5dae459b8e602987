import { z } from 'zod';
import { byKey, defineAssessment, listText, serviceLabel } from './types.js';

/** Why a service counts as fully tested for defaults. */
const COMPLETE = new Set(['exhausted', 'first-success', 'key-only', 'anonymous-accepted', 'no-auth-challenge']);

/**
 * No universal default passwords (EN 303 645 5.1-1, PSTI Sch.1 §1, EN 18031 AUM-5, JC-STAR S1.1-02).
 * FAIL on any accepted default. PASS only when every login service was tested to the end, none took a
 * default, and the declaration claims per-device or user-defined passwords (uniqueness cannot be
 * proven from one unit). Access with no credential at all is not a password finding (5.5-4/5.5-5).
 */
export default defineAssessment({
  id: 'no-default-credentials',
  description: 'No login service accepts a well-known default credential, and passwords are unique per device or set by the user.',
  params: z.strictObject({
    loginProtocols: z.array(z.string()).default(['telnet', 'ssh', 'http', 'https', 'mqtt', 'mqtts', 'ftp', 'rtsp']).describe('service protocols that take a password'),
  }),
  assess({ observations, declaration }, params) {
    // By port: the rationale reads the same whichever service finished first.
    const accepted = byKey(observations, 'credentials.accepted').sort((a, b) => Number(a.value.port) - Number(b.value.port));
    if (accepted.length > 0) {
      const what = accepted.map((o) => `${serviceLabel(o.value)} accepted ${String(o.value.username)}/${String(o.value.password) || '(empty)'} (${String(o.value.source)} list)`);
      return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(what)}: a well-known default credential grants access.`, observations: accepted.map((o) => o.id) };
    }
    const model = declaration?.credentials?.model;
    const logins = byKey(observations, 'service.open').filter((o) => params.loginProtocols.includes(String(o.value.protocol)));
    const tested = byKey(observations, 'credentials.tested');
    if (logins.length === 0) {
      if (model === 'none') return { verdict: 'NOT_APPLICABLE', basis: 'conceptual', rationale: 'The declaration says the device uses no passwords, and no login service was found.', observations: [] };
      return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No login service was found on the network, so default passwords could not be tried; passwords on other interfaces need an assessor.', observations: byKey(observations, 'scan.coverage').map((o) => o.id) };
    }
    const gaps: string[] = [];
    const used: string[] = [];
    for (const svc of logins) {
      const t = tested.find((o) => o.value.port === svc.value.port);
      if (!t) gaps.push(`${serviceLabel(svc.value)} was not tested`);
      else {
        used.push(t.id);
        if (!COMPLETE.has(String(t.value.stoppedBecause))) gaps.push(`${serviceLabel(svc.value)} testing stopped early (${String(t.value.stoppedBecause)} after ${String(t.value.attempted)} attempts)`);
      }
    }
    if (gaps.length > 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `No default was accepted, but ${listText(gaps)}.`, observations: used };
    if (model !== 'unique-per-device' && model !== 'user-defined') {
      return {
        verdict: 'INCONCLUSIVE',
        basis: 'functional',
        rationale: `No login service accepted a listed default, but ${model === undefined ? 'no declaration states' : `the declaration says "${model}", not`} how passwords are made unique per device or set by the user; one unit cannot prove that.`,
        observations: used,
      };
    }
    const attempts = tested.reduce((n, o) => n + Number(o.value.attempted ?? 0), 0);
    return {
      verdict: 'PASS',
      basis: 'functional',
      rationale: `None of the ${logins.length} login service(s) accepted any of ${attempts} default credential attempt(s), and the declaration states ${model} passwords.`,
      observations: used,
    };
  },
});
