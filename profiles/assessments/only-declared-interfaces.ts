import { z } from 'zod';
import { byKey, defineAssessment, listText, serviceLabel } from './types.js';

/**
 * Unused interfaces disabled (EN 303 645 5.6-1, TS 103 701 functional units 5.6-1-2a/b): every service
 * found on the network must be one the manufacturer declares. The harness compares discovery with the
 * declaration and records `service.undeclared`; this judges those facts.
 */
export default defineAssessment({
  id: 'only-declared-interfaces',
  description: 'Every network service found open is one the declaration lists.',
  params: z.strictObject({
    requireFullScan: z.boolean().default(false).describe('PASS only after all 65535 TCP ports were scanned (--ports all)'),
  }),
  assess({ observations, declaration }, params) {
    const open = byKey(observations, 'service.open');
    const coverage = byKey(observations, 'scan.coverage')[0];
    const undeclared = byKey(observations, 'service.undeclared');
    const openIds = open.map((o) => o.id);
    if (!coverage) {
      return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'Discovery did not complete for this device, so its open services are not known.', observations: openIds };
    }
    if (undeclared.length > 0) {
      const names = undeclared.map((o) => serviceLabel(o.value));
      const verb = names.length === 1 ? 'is' : 'are';
      return {
        verdict: 'FAIL',
        basis: 'functional',
        rationale: `${listText(names)} ${verb} open but not declared; an interface the device does not need must be disabled.`,
        observations: undeclared.map((o) => o.id),
      };
    }
    if (declaration?.interfaces === undefined) {
      const found = open.map((o) => serviceLabel(o.value));
      return {
        verdict: 'INCONCLUSIVE',
        basis: 'functional',
        rationale: `No declaration lists the device's interfaces, so the ${open.length} service(s) found${found.length ? ` (${listText(found)})` : ''} cannot be checked against the ones it needs; add \`interfaces\` to the declaration.`,
        observations: [...openIds, coverage.id],
      };
    }
    const tcp = Number(coverage.value.tcpPorts);
    const udp = Number(coverage.value.udpPorts);
    const full = coverage.value.fullTcp === true;
    if (params.requireFullScan && !full) {
      return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `Only ${tcp} of 65535 TCP ports were scanned and this profile requires a full scan; run again with --ports all.`, observations: [coverage.id] };
    }
    const scope = full ? `all 65535 TCP ports and ${udp} UDP port(s)` : `the ${tcp} TCP and ${udp} UDP ports scanned (scan every port with --ports all to extend the check)`;
    return {
      verdict: 'PASS',
      basis: 'functional',
      rationale: `Every service found among ${scope} is declared (${open.length} service(s)).`,
      observations: [...openIds, coverage.id],
    };
  },
});
