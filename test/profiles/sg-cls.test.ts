import { describe, expect, it } from 'vitest';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile } from '../../profiles/loader.js';
import type { Provision } from '../../profiles/schema.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The Singapore CLS profile on the two fixed run models: every automated provision to its exact verdict, and the level reached. */
const profile = loadProfile('sg-cls');
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

/** Level 1 provisions judged by a person; they stay NOT_ASSESSED, so no automatic run reaches Level 1. */
const MANUAL_LEVEL_1 = ['5.1-2', '5.1-4', '5.3-3', '5.3-8', '5.3-16'];

describe('sg-cls on fixed run models', () => {
  it('weak camera', () => {
    expect(verdicts('weakCamera')).toEqual({
      '5.1-1': 'FAIL', '5.2-1': 'FAIL', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'FAIL',
      '5.1-5': 'INCONCLUSIVE', '5.5-1': 'FAIL', '5.5-5': 'FAIL', '5.6-1': 'FAIL', '5.6-2': 'FAIL',
    });
    expect(evaluateProfile(profile, RUN_MODELS.weakCamera).label).toEqual({
      scheme: 'sg-cls',
      ready: false,
      level: 0,
      blocking: ['5.1-1', '5.1-2', '5.1-4', '5.2-1', '5.3-2', '5.3-3', '5.3-7', '5.3-8', '5.3-10', '5.3-13', '5.3-16'],
    });
  });

  it('hardened hub', () => {
    expect(verdicts('hardenedHub')).toEqual({
      '5.1-1': 'INCONCLUSIVE', '5.2-1': 'PASS', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'PASS',
      '5.1-5': 'PASS', '5.5-1': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS',
    });
    // The declared disclosure policy and support period pass; what blocks Level 1 is the lockout that cut the
    // default-credential trial short (5.1-1), the undeclared update URLs and the manual provisions.
    expect(evaluateProfile(profile, RUN_MODELS.hardenedHub).label).toEqual({
      scheme: 'sg-cls',
      ready: false,
      level: 0,
      blocking: ['5.1-1', '5.1-2', '5.1-4', '5.3-2', '5.3-3', '5.3-7', '5.3-8', '5.3-10', '5.3-16'],
    });
  });

  it('keeps every Level 1 manual provision NOT_ASSESSED with its reason', () => {
    const { verdicts: all } = evaluateProfile(profile, RUN_MODELS.hardenedHub);
    for (const id of MANUAL_LEVEL_1) expect(all.find((v) => v.provision === id)?.verdict).toBe('NOT_ASSESSED');
  });

  it('shows Levels 3 and 4 as NOT_ASSESSED with the approved-lab reason', () => {
    const { verdicts: all } = evaluateProfile(profile, RUN_MODELS.hardenedHub);
    const high = all.filter((v) => (profile.provisions.find((p) => p.id === v.provision)?.level ?? 1) >= 3);
    expect(high.map((v) => [v.provision, v.verdict])).toEqual([
      ['L3-security-by-design', 'NOT_ASSESSED'],
      ['L3-binary-analysis', 'NOT_ASSESSED'],
      ['L4-penetration-test', 'NOT_ASSESSED'],
    ]);
    expect(all.find((v) => v.provision === 'L3-binary-analysis')?.rationale).toBe('Level 3 requires software binary analysis by an approved lab; a network probe cannot assess it.');
    expect(all.find((v) => v.provision === 'L4-penetration-test')?.rationale).toBe('Level 4 requires penetration testing by an approved lab; a network probe cannot assess it.');
  });

  it('never claims Level 3 or 4, even when everything up to Level 2 is met', () => {
    // Only the Level 3 and 4 provisions left: Levels 1 and 2 have nothing open.
    const upper = { ...profile, provisions: profile.provisions.filter((p) => (p.level ?? 1) >= 3) };
    expect(evaluateProfile(upper, RUN_MODELS.hardenedHub).label).toEqual({
      scheme: 'sg-cls',
      ready: true,
      level: 2,
      blocking: ['L3-security-by-design', 'L3-binary-analysis'],
    });
  });

  it('covers every EN 303 645 V2.1.1 mandatory provision at Level 1 or 2, and nothing recommended', () => {
    const etsi = loadProfile('etsi-en-303-645');
    const mandatory = etsi.provisions.filter((p) => p.category !== 'R').map((p) => p.id).sort();
    const cls = profile.provisions.filter((p) => (p.level ?? 1) <= 2);
    expect(cls.map((p) => p.id).sort()).toEqual(mandatory);
    // Same category and the same assessment as in the EN 303 645 profile: the crosswalk is data, the judgement shared.
    const how = (p: Provision | undefined): string => (p && 'assessment' in p.assess ? p.assess.assessment : 'manual');
    for (const p of cls) {
      const e = etsi.provisions.find((x) => x.id === p.id);
      expect({ id: p.id, category: p.category, assess: how(p) }).toEqual({ id: p.id, category: e?.category, assess: how(e) });
    }
  });
});
