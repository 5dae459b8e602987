import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ProfileError } from '../../harness/errors.js';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile, loadProfileFile } from '../../profiles/loader.js';
import { loadWaivers } from '../../profiles/waivers.js';
import { RUN_MODELS, RUN_NOW } from '../fixtures/run-models/index.js';

function file(name: string, body: string, dir = mkdtempSync(join(tmpdir(), 'custom-'))): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

describe('custom profiles extending a built-in one', () => {
  it("drops, re-rates and adds provisions; scheme and standard stay the base's", () => {
    const path = file('acme-baseline.yaml', `id: acme-baseline
extends: etsi-en-303-645
title: Acme camera baseline
version: "1.0"
drop: ["5.6-1"]
override:
  - { id: "5.1-5", category: R }
add:
  - { id: "ACME-1", title: Firmware images carry the Acme build id, category: M, assess: { manual: "Check the build id in the update manifest." } }
`);
    const base = loadProfile('etsi-en-303-645');
    const p = loadProfileFile(path);
    expect(p).toMatchObject({ id: 'acme-baseline', scheme: 'etsi-en-303-645', standard: base.standard, version: '1.0' });
    expect(p.provisions).toHaveLength(base.provisions.length);
    expect(p.provisions.some((x) => x.id === '5.6-1')).toBe(false);
    expect(p.provisions.find((x) => x.id === '5.1-5')).toMatchObject({ category: 'R', assess: { assessment: 'brute-force-protection' } });
    expect(p.provisions.at(-1)).toMatchObject({ id: 'ACME-1', category: 'M' });
    expect(p.notes).toContain(`Extends etsi-en-303-645 ${base.version}.`);
  });

  it.each([
    ['drops an unknown id', 'drop: ["9.9-9"]\n', /drop\[0\]: "9\.9-9" is not a provision of etsi-en-303-645/],
    ['adds an existing id', 'add:\n  - { id: "5.1-1", title: Again, category: M, assess: { manual: "look at it carefully" } }\n', /add\[0\]\.id: "5\.1-1" is already a provision/],
    ['overrides an unknown id', 'override:\n  - { id: "X-1", category: R }\n', /override\[0\]\.id: "X-1" is not a provision/],
    ['misspells a field', 'dorp: ["5.6-1"]\n', /unknown field\(s\) "dorp"/],
  ])('rejects a profile that %s, naming file and path', (_n, body, message) => {
    const path = file('bad.yaml', `id: bad\nextends: etsi-en-303-645\ntitle: Bad one\nversion: "1"\n${body}`);
    expect(() => loadProfileFile(path)).toThrow(ProfileError);
    expect(() => loadProfileFile(path)).toThrow(message);
  });

  it('rejects a cycle of profiles extending each other', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycle-'));
    file('a.yaml', 'id: a\nextends: ./b.yaml\ntitle: A one\nversion: "1"\n', dir);
    const b = file('b.yaml', 'id: b\nextends: ./a.yaml\ntitle: B one\nversion: "1"\n', dir);
    expect(() => loadProfileFile(b)).toThrow(/extends itself/);
  });
});

describe('waivers', () => {
  const waivers = file('waivers.yaml', `waivers:
  - { scheme: etsi-en-303-645, provision: "5.6-1", justification: "Telnet is the factory test jig interface, disabled in production firmware 2.2", expires: 2027-06-30, approvedBy: lab lead }
  - { scheme: etsi-en-303-645, provision: "5.5-1", justification: "Old waiver for the legacy web UI, superseded", expires: 2026-01-31 }
`);

  it('a waived FAIL becomes NOT_APPLICABLE with its justification; an expired waiver is ignored', () => {
    const set = loadWaivers(waivers, RUN_NOW);
    expect(set.active.map((w) => w.provision)).toEqual(['5.6-1']);
    expect(set.expired.map((w) => w.provision)).toEqual(['5.5-1']);
    const e = evaluateProfile(loadProfile('etsi-en-303-645'), RUN_MODELS.weakCamera, set.active);
    const v561 = e.verdicts.find((v) => v.provision === '5.6-1');
    expect(v561).toMatchObject({ verdict: 'NOT_APPLICABLE', basis: 'conceptual' });
    expect(v561?.rationale).toMatch(/^Waived until 2027-06-30 by lab lead: Telnet is the factory test jig interface.*\(the assessment said FAIL: /);
    expect(v561?.evidence.length).toBeGreaterThan(0);
    expect(e.verdicts.find((v) => v.provision === '5.5-1')?.verdict).toBe('FAIL');
    expect(e.label.blocking).not.toContain('5.6-1');
  });

  it('a waiver needs a justification and a date, named by path', () => {
    const bad = file('w.yaml', 'waivers:\n  - { scheme: etsi-en-303-645, provision: "5.6-1", expires: 2027-01-01 }\n');
    expect(() => loadWaivers(bad, RUN_NOW)).toThrow(ConfigError);
    expect(() => loadWaivers(bad, RUN_NOW)).toThrow(/w\.yaml: waivers\[0\]\.justification:/);
  });
});
