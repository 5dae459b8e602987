import { z } from 'zod';
import { asText, byKey, defineAssessment, dtlsClosedToAnonymous, dtlsOpenToAnonymous, listText } from './types.js';

/**
 * Little security-relevant information disclosed without authentication (EN 303 645 5.6-2): an
 * anonymous MQTT subscriber receiving device traffic or broker internals ($SYS), or CoAP discovery
 * listing security-relevant resources, fails it. Plain resource lists are for an assessor to judge.
 * mDNS, SSDP and UPnP records are not probed by this version.
 */
export default defineAssessment({
  id: 'limited-disclosure',
  description: 'An unauthenticated client learns nothing security-relevant from the messaging and discovery services.',
  params: z.strictObject({
    sensitiveNames: z.string().default('key|secret|pass|cred|token|config|firmware|admin|wifi|psk|cert').describe('resource or topic names that count as security-relevant (regular expression)'),
  }),
  assess({ observations }, params) {
    const sensitive = new RegExp(params.sensitiveNames, 'i');
    const fails: { text: string; id: string }[] = [];
    const judge: { text: string; id: string }[] = [];
    const mqtt = byKey(observations, 'mqtt.anonymous');
    for (const o of mqtt) {
      const seen = Number(o.value.messagesSeen ?? 0);
      const sys = Number(o.value.sysTopics ?? 0);
      if (o.value.subscribeAll === true && seen > 0) fails.push({ text: `an anonymous subscriber on tcp/${asText(o.value.port, '?')} received ${seen} message(s)${sys ? `, ${sys} of them broker internals ($SYS)` : ''}`, id: o.id });
    }
    // Discovery over DTLS is anonymous too when the handshake goes through without the right key.
    const dtls = byKey(observations, 'coap.dtls');
    const openDtls = new Set(dtls.filter(dtlsOpenToAnonymous).map((o) => o.value.port));
    const coap = byKey(observations, 'coap.access').filter((o) => o.value.secure !== true || openDtls.has(o.value.port));
    const closedDtls = dtls.filter(dtlsClosedToAnonymous);
    for (const o of coap) {
      const paths = Array.isArray(o.value.discovery) ? o.value.discovery.map((p) => asText(p, '')) : [];
      const risky = paths.filter((p) => sensitive.test(p));
      if (risky.length) fails.push({ text: `CoAP discovery on udp/${asText(o.value.port, '?')} lists ${listText(risky)} to anyone`, id: o.id });
      else if (paths.length) judge.push({ text: `CoAP discovery on udp/${asText(o.value.port, '?')} lists ${paths.length} resource(s) to anyone`, id: o.id });
    }
    if (fails.length) return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(fails.map((f) => f.text))}.`, observations: fails.map((f) => f.id) };
    if (judge.length) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `${listText(judge.map((j) => j.text))}; whether that is security-relevant needs an assessor.`, observations: judge.map((j) => j.id) };
    if (mqtt.length + coap.length + closedDtls.length === 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No MQTT or CoAP service to check for disclosure; mDNS, SSDP and UPnP records are not probed and need an assessor.', observations: [] };
    return { verdict: 'PASS', basis: 'functional', rationale: 'Anonymous MQTT and CoAP clients learn nothing (no messages, no $SYS, no resource list; CoAP over DTLS refuses a client without the key); mDNS, SSDP and UPnP are not probed.', observations: [...mqtt, ...coap, ...closedDtls].map((o) => o.id) };
  },
});
