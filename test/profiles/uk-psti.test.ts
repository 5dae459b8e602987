import { describe, expect, it } from 'vitest';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile } from '../../profiles/loader.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The UK PSTI profile on the two fixed run models: every automated provision to its exact verdict, and the label. */
const profile = loadProfile('uk-psti');
const evaluate = (model: keyof typeof RUN_MODELS) => evaluateProfile(profile, RUN_MODELS[model]);
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

describe('uk-psti on fixed run models', () => {
  it('weak camera fails all three Schedule 1 requirements', () => {
    // Mirai defaults accepted on telnet, HTTP(S) and RTSP; no disclosure policy and no support period declared.
    expect(verdicts('weakCamera')).toEqual({ 'Sch1-para1': 'FAIL', 'Sch1-para2': 'FAIL', 'Sch1-para3': 'FAIL' });
    expect(evaluate('weakCamera').label).toEqual({ scheme: 'uk-psti', ready: false, blocking: ['Sch1-para1', 'Sch1-para2', 'Sch1-para3', 'Sch4'] });
  });

  it('hardened hub: policy and support period declared; the default sweep was cut short by its lockout', () => {
    expect(verdicts('hardenedHub')).toEqual({ 'Sch1-para1': 'INCONCLUSIVE', 'Sch1-para2': 'PASS', 'Sch1-para3': 'PASS' });
    expect(evaluate('hardenedHub').label).toEqual({ scheme: 'uk-psti', ready: false, blocking: ['Sch1-para1', 'Sch4'] });
  });

  it('keeps the deemed-compliance routes the research lists', () => {
    expect(profile.provisions.filter((p) => p.category === 'M').map((p) => p.id)).toEqual(['Sch1-para1', 'Sch1-para2', 'Sch1-para3', 'Sch4']);
    const routes = profile.deemedCompliance.join('\n');
    for (const route of ['5.1-1', '5.2-1', '5.3-13', 'ISO/IEC 29147:2018', 'JC-STAR STAR-1', 'Singapore CLS']) expect(routes).toContain(route);
  });
});
