import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../harness/errors.js';
import { builtinProfileIds, defaultProfileIds, loadProfile, loadProfileFile } from '../../profiles/loader.js';
import { evaluateProfile } from '../../profiles/evaluate.js';

function profileFile(name: string, body: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'profile-')), `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

const HEADER = `scheme: etsi-en-303-645
title: Test profile
version: "1"
standard: { name: ETSI EN 303 645, version: V2.1.1 }
`;

describe('profile loader', () => {
  it('loads the built-in ETSI profile with 5.6-1 probed and the rest manual', () => {
    expect(builtinProfileIds()).toContain('etsi-en-303-645');
    const p = loadProfile('etsi-en-303-645');
    const p561 = p.provisions.find((x) => x.id === '5.6-1');
    expect(p561?.category).toBe('M');
    expect(p561?.assess).toEqual({ assessment: 'only-declared-interfaces', params: { requireFullScan: false } });
    expect(p.provisions.length).toBeGreaterThan(60);
    expect(new Set(p.provisions.map((x) => x.id)).size).toBe(p.provisions.length);
  });

  it('names the file, the path and the fix for schema errors', () => {
    const file = profileFile('bad', `id: bad\n${HEADER}provisions:\n  - { id: "5.6-1", title: Interfaces, category: X, assess: { manual: "look at it carefully" } }\n`);
    expect(() => loadProfileFile(file)).toThrow(ProfileError);
    expect(() => loadProfileFile(file)).toThrow(/bad\.yaml: provisions\[0\]\.category:/);
  });

  it('rejects an id that differs from the file name', () => {
    const file = profileFile('mine', `id: other\n${HEADER}provisions:\n  - { id: "1", title: One, category: M, assess: { manual: "look at it carefully" } }\n`);
    expect(() => loadProfileFile(file)).toThrow(/id: "other" must equal the file name "mine"/);
  });

  it('rejects unknown assessments, bad params and duplicate provisions', () => {
    const unknown = profileFile('u', `id: u\n${HEADER}provisions:\n  - { id: "1", title: One, category: M, assess: { assessment: no-such-thing } }\n`);
    expect(() => loadProfileFile(unknown)).toThrow(/provisions\[0\]\.assess\.assessment: unknown assessment "no-such-thing"/);
    const params = profileFile('p', `id: p\n${HEADER}provisions:\n  - { id: "1", title: One, category: M, assess: { assessment: only-declared-interfaces, params: { requireFullScan: "yes" } } }\n`);
    expect(() => loadProfileFile(params)).toThrow(/requireFullScan/);
    const dup = profileFile('d', `id: d\n${HEADER}provisions:\n  - { id: "1", title: One, category: M, assess: { manual: "look at it carefully" } }\n  - { id: "1", title: Two, category: R, assess: { manual: "look at it carefully" } }\n`);
    expect(() => loadProfileFile(dup)).toThrow(/provisions\[1\]\.id: "1" appears twice/);
  });

  it('unknown built-in ids list the known ones', () => {
    expect(() => loadProfile('etsi')).toThrow(/unknown profile "etsi"; built-in profiles: .*etsi-en-303-645/);
  });
});

describe('evaluateProfile', () => {
  it('gives every provision a verdict, collects evidence from observations, and blocks the label on mandatory ones', () => {
    const p = loadProfile('etsi-en-303-645');
    const e = evaluateProfile(p, {
      observations: [
        { id: 'obs-1', probe: 'discovery', key: 'scan.coverage', value: { tcpPorts: 1, udpPorts: 0 }, evidence: ['ev-1'] },
        { id: 'obs-2', probe: 'declaration', key: 'service.undeclared', value: { port: 23, transport: 'tcp', protocol: 'telnet' }, evidence: ['ev-2', 'ev-3'] },
      ],
      declaration: { trustAnchors: [], interfaces: [] },
    });
    expect(e.verdicts).toHaveLength(p.provisions.length);
    const v = e.verdicts.find((x) => x.provision === '5.6-1');
    expect(v).toMatchObject({ scheme: 'etsi-en-303-645', verdict: 'FAIL', observations: ['obs-2'], evidence: ['ev-2', 'ev-3'] });
    for (const [i, pr] of p.provisions.entries()) {
      if ('manual' in pr.assess) expect(e.verdicts[i]).toMatchObject({ provision: pr.id, verdict: 'NOT_ASSESSED', rationale: pr.assess.manual });
    }
    expect(e.label.ready).toBe(false);
    expect(e.label.blocking).toContain('5.6-1');
    expect(e.failures).toEqual([]);
  });
});

describe('built-in profiles together', () => {
  it('the default set has one profile per scheme, and every cross-reference names a provision that exists', () => {
    const all = builtinProfileIds().map(loadProfile);
    expect(defaultProfileIds().map(loadProfile).map((p) => p.scheme).sort()).toEqual(['en-18031-1', 'etsi-en-303-645', 'jc-star', 'nist-ir-8425', 'sg-cls', 'uk-psti']);
    const known = new Set(all.flatMap((p) => p.provisions.map((pr) => `${p.scheme} ${pr.id}`)));
    const dangling = all.flatMap((p) => p.provisions.flatMap((pr) => (pr.crossRef ?? []).filter((ref) => /^(en-18031-1|etsi-en-303-645|jc-star|nist-ir-8425|sg-cls|uk-psti) /.test(ref) && !known.has(ref)).map((ref) => `${p.id} ${pr.id} -> ${ref}`)));
    expect(dangling).toEqual([]);
  });
});
