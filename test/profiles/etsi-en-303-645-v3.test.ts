import { describe, expect, it } from 'vitest';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { defaultProfileIds, loadProfile } from '../../profiles/loader.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The opt-in EN 303 645 V3.1.3 profile: its provision set, and its automated provisions on the two fixed run models. */
const profile = loadProfile('etsi-en-303-645-v3');
const ids = profile.provisions.map((p) => p.id);
const byId = (id: string) => profile.provisions.find((p) => p.id === id);
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

const ADDED = ['5.0-1', '5.1-2A', '5.3-4A', '5.3-4B', '5.3-6A', '5.3-6B', '5.3-15A', '5.3-15B', '5.6-4A', '5.6-4B', '5.13-1A', '5.13-1B', '6-3A', '6-3B', '6-6', '6-7', '6-8'];
const DROPPED = ['4-1', '5.3-4', '5.3-6', '5.3-15', '5.6-4', '5.13-1', '6-3'];

describe('etsi-en-303-645-v3 provision set', () => {
  it('loads as an opt-in V3.1.3 edition of the ETSI scheme', () => {
    expect(profile).toMatchObject({
      id: 'etsi-en-303-645-v3',
      scheme: 'etsi-en-303-645',
      default: false,
      standard: { name: 'ETSI EN 303 645', version: 'V3.1.3', assessedPer: 'ETSI TS 103 701 V2.1.1' },
    });
    expect(defaultProfileIds()).not.toContain('etsi-en-303-645-v3');
    expect(defaultProfileIds()).toContain('etsi-en-303-645');
  });

  it('has 5.0-1, the A/B splits and 6-6..6-8, and none of the V2.1.1 ids they replace', () => {
    for (const id of ADDED) expect(ids, id).toContain(id);
    for (const id of DROPPED) expect(ids, id).not.toContain(id);
    expect(ids).toContain('5.1-2'); // kept: V3.1.3 adds 5.1-2A beside it
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(68 - DROPPED.length + ADDED.length);
  });

  it('rates provisions from the V3.1.3 status column and keeps the UNVERIFIED marks visible', () => {
    expect(byId('5.0-1')).toMatchObject({ category: 'M', testGroup: '5.0-1' });
    expect(byId('5.6-4A')).toMatchObject({ category: 'C', condition: expect.stringMatching(/feature q/) as unknown });
    expect(byId('5.6-4B')).toMatchObject({ category: 'R', condition: expect.stringMatching(/feature r/) as unknown });
    expect(byId('5.1-3')).toMatchObject({ category: 'C', condition: expect.stringMatching(/feature c/) as unknown });
    expect(byId('5.5-8')).toMatchObject({ category: 'C', condition: expect.stringMatching(/condition 16/) as unknown });
    expect(byId('5.3-5')).toMatchObject({ category: 'R', condition: expect.stringMatching(/feature g/) as unknown });
    expect(byId('5.2-1')?.category).toBe('M');
    // Every added provision says what of it is unconfirmed, and no condition keeps a V2.1.1 number.
    for (const id of ADDED) expect(byId(id)?.unverified, id).toBeTruthy();
    for (const p of profile.provisions.filter((x) => x.condition)) expect(p.condition, p.id).toMatch(/V3\.1\.3 (feature|condition)/);
    expect(profile.notes.join('\n')).toMatch(/third-party transcription/);
    expect(profile.notes.join('\n')).toMatch(/UNVERIFIED/);
    // Every added provision is manual: no probe judges a V3-only provision yet.
    for (const id of ADDED) expect('manual' in (byId(id)?.assess ?? {}), id).toBe(true);
  });
});

describe('etsi-en-303-645-v3 on fixed run models', () => {
  it('weak camera', () => {
    expect(verdicts('weakCamera')).toEqual({
      '5.1-1': 'FAIL', '5.1-5': 'INCONCLUSIVE', '5.2-1': 'FAIL', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-9': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'FAIL',
      '5.5-1': 'FAIL', '5.5-4': 'FAIL', '5.5-5': 'FAIL', '5.6-1': 'FAIL', '5.6-2': 'FAIL',
    });
  });
  it('hardened hub', () => {
    expect(verdicts('hardenedHub')).toEqual({
      '5.1-1': 'INCONCLUSIVE', '5.1-5': 'PASS', '5.2-1': 'PASS', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-9': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'PASS',
      '5.5-1': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS',
    });
  });
  it('hardened hub: the label stays blocked on the V3-only mandatory provisions left to an assessor', () => {
    const hub = evaluateProfile(profile, RUN_MODELS.hardenedHub).label;
    expect(hub).toMatchObject({ scheme: 'etsi-en-303-645', ready: false });
    expect(hub.blocking).toEqual(expect.arrayContaining(['5.0-1', '5.6-4A', '5.13-1A', '5.13-1B', '6-3A']));
    expect(hub.blocking).not.toContain('5.6-4B'); // R in V3.1.3 per the transcription
    expect(hub.blocking).not.toContain('5.6-1'); // PASS
  });
});
