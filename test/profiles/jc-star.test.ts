import { describe, expect, it } from 'vitest';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile } from '../../profiles/loader.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The JC-STAR ★1 profile on the two fixed run models: every automated requirement to its exact verdict, and the label. */
const profile = loadProfile('jc-star');
const evaluate = (model: keyof typeof RUN_MODELS) => evaluateProfile(profile, RUN_MODELS[model]);
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

/** S1.1-08 to S1.1-16: in the scheme, not in the research; always open until an assessor judges them. */
const UNTRANSCRIBED = Array.from({ length: 9 }, (_, i) => `S1.1-${String(i + 8).padStart(2, '0')}`);

describe('jc-star on fixed run models', () => {
  it('weak camera', () => {
    // Anonymous MQTT, Mirai defaults, no test account for a brute-force trial, no disclosure policy declared.
    expect(verdicts('weakCamera')).toEqual({ 'S1.1-01': 'FAIL', 'S1.1-02': 'FAIL', 'S1.1-04': 'INCONCLUSIVE', 'S1.1-05': 'FAIL' });
    expect(evaluate('weakCamera').label).toEqual({
      scheme: 'jc-star',
      ready: false,
      blocking: ['S1.1-01', 'S1.1-02', 'S1.1-03', 'S1.1-04', 'S1.1-05', 'S1.1-06', 'S1.1-07', ...UNTRANSCRIBED],
    });
  });

  it('hardened hub', () => {
    // S1.1-02 stays open: the MQTT broker locked the default-credential sweep out after 9 of 80 attempts.
    expect(verdicts('hardenedHub')).toEqual({ 'S1.1-01': 'PASS', 'S1.1-02': 'INCONCLUSIVE', 'S1.1-04': 'PASS', 'S1.1-05': 'PASS' });
    expect(evaluate('hardenedHub').label).toEqual({
      scheme: 'jc-star',
      ready: false,
      blocking: ['S1.1-02', 'S1.1-03', 'S1.1-06', 'S1.1-07', ...UNTRANSCRIBED],
    });
  });

  it('lists all 16 ★1 requirements as mandatory and marks the untranscribed ones', () => {
    expect(profile.provisions.map((p) => p.id)).toEqual([...['01', '02', '03', '04', '05', '06', '07'].map((n) => `S1.1-${n}`), ...UNTRANSCRIBED]);
    expect(profile.provisions.every((p) => p.category === 'M')).toBe(true);
    for (const id of ['S1.1-06', ...UNTRANSCRIBED]) expect(profile.provisions.find((p) => p.id === id)?.unverified).toMatch(/UNVERIFIED/);
  });
});
