import { z } from 'zod';
import { asText, byKey, defineAssessment, dtlsOpenToAnonymous, listText, serviceLabel } from './types.js';

/** Observations that show a service was asked whether it lets anyone in. */
const CHECKS = ['credentials.tested', 'mqtt.anonymous', 'coap.access', 'coap.dtls', 'http.auth-challenge', 'rtsp.auth-challenge', 'ssh.auth-methods'];

/**
 * Network access to functions only after authentication (EN 303 645 5.5-4): anything a probe reached
 * without a credential (a shell, an admin page, a video stream, an MQTT broker, readable CoAP
 * resources) fails it; PASS needs every service with functions to have been asked.
 */
export default defineAssessment({
  id: 'authenticated-access',
  description: 'No device function is reachable over the network without authentication.',
  params: z.strictObject({
    serviceProtocols: z.array(z.string()).default(['telnet', 'ssh', 'http', 'https', 'mqtt', 'mqtts', 'ftp', 'rtsp', 'coap', 'coaps', 'dtls']).describe('services that expose device functions'),
  }),
  assess({ observations }, params) {
    const open: { text: string; id: string }[] = [];
    for (const o of byKey(observations, 'auth.none')) open.push({ text: `${serviceLabel(o.value)}${o.value.path ? ` (${asText(o.value.path, '')})` : ''} grants access without any credential`, id: o.id });
    for (const o of byKey(observations, 'mqtt.anonymous').filter((x) => x.value.connect === true && !open.some((f) => f.text.startsWith(`mqtt on tcp/${asText(x.value.port, '')}`)))) {
      open.push({ text: `the MQTT broker on tcp/${asText(o.value.port, '?')} accepts anonymous clients`, id: o.id });
    }
    for (const o of byKey(observations, 'coap.access').filter((x) => x.value.read === true && x.value.secure !== true)) {
      open.push({ text: `CoAP on udp/${asText(o.value.port, '?')} serves resources without authentication`, id: o.id });
    }
    for (const o of byKey(observations, 'coap.dtls').filter(dtlsOpenToAnonymous)) {
      open.push({ text: `DTLS on udp/${asText(o.value.port, '?')} completes a handshake ${o.value.noPsk === 'accepted' ? 'without any key' : 'with a wrong key'}`, id: o.id });
    }
    if (open.length) return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(open.map((f) => f.text))}.`, observations: open.map((f) => f.id) };

    const services = byKey(observations, 'service.open').filter((s) => params.serviceProtocols.includes(asText(s.value.protocol, '')));
    // A CoAP endpoint that never answered was not really asked.
    const checks = observations.filter((o) => CHECKS.includes(o.key) && !(o.key === 'coap.access' && o.value.answered === false));
    const unchecked = services.filter((s) => !checks.some((c) => c.value.port === s.value.port));
    if (services.length === 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No service exposing device functions was found to check.', observations: [] };
    if (unchecked.length) {
      return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `Nothing was reachable without authentication where checked, but ${listText(unchecked.map((s) => serviceLabel(s.value)))} ${unchecked.length === 1 ? 'was' : 'were'} not checked.`, observations: unchecked.map((s) => s.id) };
    }
    return { verdict: 'PASS', basis: 'functional', rationale: `Every one of the ${services.length} service(s) asked for authentication before granting access.`, observations: checks.map((c) => c.id) };
  },
});
