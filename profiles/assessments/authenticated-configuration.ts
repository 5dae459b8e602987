import { z } from 'zod';
import { asText, byKey, defineAssessment, dtlsClosedToAnonymous, listText, serviceLabel } from './types.js';

/** Services where access without a credential means control of the device, not only reading it. */
const CONTROL = new Set(['telnet', 'ssh', 'http', 'https', 'ftp']);

/**
 * Security-relevant settings changed over the network only after authentication (EN 303 645 5.5-5):
 * an anonymous MQTT publish that the broker accepts, a CoAP resource created without authentication,
 * or a shell or admin interface open to anyone fails it.
 */
export default defineAssessment({
  id: 'authenticated-configuration',
  description: 'Nothing on the device can be changed over the network without authentication.',
  params: z.strictObject({}),
  assess({ observations }) {
    const writable: { text: string; id: string }[] = [];
    for (const o of byKey(observations, 'mqtt.anonymous').filter((x) => x.value.publish === true)) {
      writable.push({ text: `the MQTT broker on tcp/${asText(o.value.port, '?')} accepts publishes from anonymous clients`, id: o.id });
    }
    for (const o of byKey(observations, 'coap.access').filter((x) => x.value.write === true && x.value.secure !== true)) {
      writable.push({ text: `CoAP on udp/${asText(o.value.port, '?')} lets anyone create resources`, id: o.id });
    }
    for (const o of byKey(observations, 'auth.none').filter((x) => CONTROL.has(asText(x.value.protocol, '')))) {
      writable.push({ text: `${serviceLabel(o.value)}${o.value.path ? ` (${asText(o.value.path, '')})` : ''} gives a shell or management interface without any credential`, id: o.id });
    }
    if (writable.length) return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(writable.map((w) => w.text))}.`, observations: writable.map((w) => w.id) };
    // A CoAP endpoint counts only when the write test really ran (it is off under `write: false`), or
    // when it sits behind DTLS that an anonymous client cannot get through.
    const checked = [
      ...byKey(observations, 'mqtt.anonymous'),
      ...byKey(observations, 'coap.access').filter((o) => o.value.writeTested === true),
      ...byKey(observations, 'coap.dtls').filter(dtlsClosedToAnonymous),
      ...byKey(observations, 'credentials.tested'),
      ...byKey(observations, 'http.auth-challenge'),
    ];
    if (checked.length === 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No management, messaging or CoAP service was checked for unauthenticated changes.', observations: [] };
    return { verdict: 'PASS', basis: 'functional', rationale: `No unauthenticated write was accepted on the ${checked.length} checked interface(s) (MQTT publish, CoAP create or a DTLS handshake without the key, shells and admin interfaces).`, observations: checked.map((o) => o.id) };
  },
});
