import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../profiles/loader.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The ETSI profile on the two fixed run models: every automated provision to its exact verdict. */
const profile = loadProfile('etsi-en-303-645');
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

describe('etsi-en-303-645 on fixed run models', () => {
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
});
