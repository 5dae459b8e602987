import { describe, expect, it } from 'vitest';
import { explainProvision } from '../../reports/explain.js';
import { fixedRunModel } from './fixed-run-model.js';

describe('report --explain', () => {
  const run = fixedRunModel();

  it('prints the verdict, the observations behind it and every evidence record they cite', () => {
    const text = explainProvision(run, { provision: '5.1-1', target: 'weak-camera' }, 'runs/x');
    const verdict = run.report.targets[0]?.verdicts.find((v) => v.provision === '5.1-1' && v.scheme === 'etsi-en-303-645');
    expect(text).toContain(`weak-camera (127.0.0.11) · etsi-en-303-645 5.1-1 ${verdict?.title}`);
    expect(text).toContain(`FAIL (functional): ${verdict?.rationale}`);
    for (const id of verdict?.observations ?? []) expect(text).toMatch(new RegExp(`^  ${id}  \\S+  credentials\\.accepted  \\{`, 'm'));
    for (const id of verdict?.evidence ?? []) expect(text).toMatch(new RegExp(`^  ${id}  \\S+  \\S+ \\S+`, 'm'));
    expect(text).toMatch(/Check that none of it was edited since the run: iot-harness verify runs\/x\n$/);
    // Without --scheme, every scheme that has the provision: 5.1-1 is ETSI's and Singapore CLS's.
    expect(explainProvision(run, { provision: '5.1-1', target: 'weak-camera' }, 'r').match(/^weak-camera .* 5\.1-1 /gm)?.length).toBeGreaterThan(1);
  });

  it('says when a verdict rests on the declaration alone', () => {
    expect(explainProvision(run, { provision: '5.2-1', target: 'weak-camera', scheme: 'etsi-en-303-645' }, 'r')).toMatch(/^FAIL \(conceptual\): .*\n\nJudged from the declaration: no network observation behind it\./m);
  });

  it('shows control bytes a device sent as escapes, never raw to the terminal', () => {
    const hostile = fixedRunModel();
    const verdict = hostile.report.targets[0]?.verdicts.find((v) => v.provision === '5.1-1');
    const record = hostile.evidence.find((e) => e.id === verdict?.evidence[0]);
    if (!record) throw new Error('fixture has no evidence for 5.1-1');
    Object.assign(record, { received: { bytes: 9, sha256: 'x', text: 'ok\u001b[2J\u0007\r\n', truncated: false } });
    const text = explainProvision(hostile, { provision: '5.1-1', target: 'weak-camera', scheme: 'etsi-en-303-645' }, 'r');
    expect(text).toContain('| ok\\x1b[2J\\x07');
    for (const raw of ['\u001b', '\u0007', '\r']) expect(text).not.toContain(raw);
  });

  it('names what does not exist: provision, scheme, target', () => {
    expect(() => explainProvision(run, { provision: '9.9' }, 'r')).toThrow(/--explain: no verdict for provision "9\.9"; this run has /);
    expect(() => explainProvision(run, { provision: '5.1-1', scheme: 'nope' }, 'r')).toThrow(/--scheme: this run has no verdicts for "nope"; it has .*etsi-en-303-645/);
    expect(() => explainProvision(run, { provision: '5.1-1', target: 'toaster' }, 'r')).toThrow(/--target: no target "toaster" in this run; it has weak-camera, hardened-hub/);
  });
});
