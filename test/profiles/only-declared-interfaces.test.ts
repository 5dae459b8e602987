import { describe, expect, it } from 'vitest';
import type { DeclarationData } from '../../harness/declaration.js';
import type { Observation } from '../../harness/report-schema.js';
import assessment from '../../profiles/assessments/only-declared-interfaces.js';

const coverage: Observation = { id: 'obs-1', probe: 'discovery', key: 'scan.coverage', value: { scanner: 'builtin', tcpPorts: 320, udpPorts: 2, fullTcp: false }, evidence: ['ev-1'] };
const ssh: Observation = { id: 'obs-2', probe: 'discovery', key: 'service.open', value: { port: 22, transport: 'tcp', protocol: 'ssh', tls: false }, evidence: ['ev-2'] };
const telnet: Observation = { id: 'obs-3', probe: 'discovery', key: 'service.open', value: { port: 23, transport: 'tcp', protocol: 'telnet', tls: false }, evidence: ['ev-3'] };
const telnetUndeclared: Observation = { id: 'obs-4', probe: 'declaration', key: 'service.undeclared', value: { port: 23, transport: 'tcp', protocol: 'telnet' }, evidence: ['ev-3'] };
const declaration: DeclarationData = { trustAnchors: [], interfaces: [{ port: 22, transport: 'tcp', protocol: 'ssh' }] };
const params = assessment.params.parse({});

describe('only-declared-interfaces (EN 303 645 5.6-1)', () => {
  it('FAILs naming every undeclared service', () => {
    const r = assessment.assess({ observations: [coverage, ssh, telnet, telnetUndeclared], declaration }, params);
    expect(r).toEqual({ verdict: 'FAIL', basis: 'functional', rationale: 'telnet on tcp/23 is open but not declared; an interface the device does not need must be disabled.', observations: ['obs-4'] });
  });

  it('PASSes when every service found is declared, stating the scan coverage', () => {
    const r = assessment.assess({ observations: [coverage, ssh], declaration }, params);
    expect(r.verdict).toBe('PASS');
    expect(r.rationale).toMatch(/among the 320 TCP and 2 UDP ports scanned/);
    expect(r.observations).toEqual(['obs-2', 'obs-1']);
  });

  it('is INCONCLUSIVE without declared interfaces, listing what was found', () => {
    const r = assessment.assess({ observations: [coverage, ssh, telnet] }, params);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.rationale).toMatch(/2 service\(s\) found \(ssh on tcp\/22 and telnet on tcp\/23\) cannot be checked/);
  });

  it('FAIL outranks an incomplete picture: an undeclared service fails even without full coverage', () => {
    const r = assessment.assess({ observations: [coverage, telnetUndeclared], declaration }, assessment.params.parse({ requireFullScan: true }));
    expect(r.verdict).toBe('FAIL');
  });

  it('is INCONCLUSIVE when discovery did not finish', () => {
    expect(assessment.assess({ observations: [], declaration }, params).verdict).toBe('INCONCLUSIVE');
  });

  it('with requireFullScan, PASS needs all 65535 ports', () => {
    const strict = assessment.params.parse({ requireFullScan: true });
    expect(assessment.assess({ observations: [coverage, ssh], declaration }, strict).verdict).toBe('INCONCLUSIVE');
    const full = { ...coverage, value: { ...coverage.value, tcpPorts: 65534, fullTcp: true } };
    expect(assessment.assess({ observations: [full, ssh], declaration }, strict).verdict).toBe('PASS');
  });
});
