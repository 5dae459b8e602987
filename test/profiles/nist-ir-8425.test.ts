import { describe, expect, it } from 'vitest';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile } from '../../profiles/loader.js';
import { automatedVerdicts, RUN_MODELS } from '../fixtures/run-models/index.js';

/** The NIST IR 8425 profile on the two fixed run models: every automated outcome to its exact verdict, and the label. */
const profile = loadProfile('nist-ir-8425');
const evaluate = (model: keyof typeof RUN_MODELS) => evaluateProfile(profile, RUN_MODELS[model]);
const verdicts = (model: keyof typeof RUN_MODELS) => automatedVerdicts(profile, model);

/** Outcomes no probe can judge: they block the label until an assessor has dealt with them. */
const MANUAL = ['Asset Identification', 'Cybersecurity State Awareness', 'Documentation', 'Information and Query Reception', 'Information Dissemination', 'Product Education and Awareness'];

describe('nist-ir-8425 on fixed run models', () => {
  it('weak camera', () => {
    // Anonymous MQTT publish and connect; telnet, cleartext logins and TLS 1.0/1.1; no update URLs declared.
    expect(verdicts('weakCamera')).toEqual({ 'Product Configuration': 'FAIL', 'Data Protection': 'FAIL', 'Interface Access Control': 'FAIL', 'Software Update': 'NOT_ASSESSED' });
    expect(evaluate('weakCamera').label).toEqual({
      scheme: 'nist-ir-8425',
      ready: false,
      blocking: ['Asset Identification', 'Product Configuration', 'Data Protection', 'Interface Access Control', 'Software Update', 'Cybersecurity State Awareness', 'Documentation', 'Information and Query Reception', 'Information Dissemination', 'Product Education and Awareness'],
    });
  });

  it('hardened hub', () => {
    expect(verdicts('hardenedHub')).toEqual({ 'Product Configuration': 'PASS', 'Data Protection': 'PASS', 'Interface Access Control': 'PASS', 'Software Update': 'NOT_ASSESSED' });
    expect(evaluate('hardenedHub').label).toEqual({
      scheme: 'nist-ir-8425',
      ready: false,
      blocking: ['Asset Identification', 'Software Update', 'Cybersecurity State Awareness', 'Documentation', 'Information and Query Reception', 'Information Dissemination', 'Product Education and Awareness'],
    });
  });

  it('has the ten outcomes, all mandatory, six of them for an assessor', () => {
    expect(profile.provisions).toHaveLength(10);
    expect(profile.provisions.every((p) => p.category === 'M')).toBe(true);
    expect(profile.provisions.filter((p) => 'manual' in p.assess).map((p) => p.id)).toEqual(MANUAL);
  });
});
