import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { verifyEvidenceChain } from '../../harness/evidence.js';
import { ReportSchema } from '../../harness/report-schema.js';
import { BIN, cli, tmp } from './helpers.js';

describe('iot-harness demo', () => {
  it('starts the lab, judges every device, prints a verdict table and the report path, and stops the lab', async () => {
    const out = join(tmp('demo-'), 'run');
    const r = await cli(['demo', '--out', out, '--exclude-ports', '2024', '--format', 'html,markdown']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Started 5 simulated devices/);
    expect(r.stdout).toMatch(/^camera {2}127\.0\.0\.11 /m);
    expect(r.stdout).toMatch(/FAIL\s+5\.6-1/);
    expect(r.stdout).toMatch(/\nhub {2}[\s\S]*PASS\s+5\.6-1/);
    // The camera's Mirai default on telnet fails 5.1-1; the hub's MQTT lockout passes 5.1-5.
    expect(r.stdout).toMatch(/FAIL\s+5\.1-1\s+No universal default passwords\s+telnet on tcp\/\d+ accepted root\/xc3511 \(mirai list\)/);
    expect(r.stdout).toMatch(/\nhub {2}[\s\S]*PASS\s+5\.1-5\s+.*\s+mqtts on tcp\/\d+ locked after \d+ wrong attempt/);
    expect(r.stdout).toMatch(/Report: .*report\.json/);

    const report = ReportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    const camera = report.targets.find((t) => t.id === 'camera');
    const hub = report.targets.find((t) => t.id === 'hub');
    expect(camera?.services.map((s) => s.protocol).sort()).toEqual(['http', 'https', 'mqtt', 'rtsp', 'telnet']);
    expect(hub?.services.map((s) => s.protocol).sort()).toEqual(['https', 'mqtts', 'ssh']);
    expect(camera?.verdicts.find((v) => v.provision === '5.6-1')?.rationale).toMatch(/telnet on tcp\/\d+.*rtsp on tcp\/\d+ and mqtt on tcp\/\d+ are open but not declared/);
    // The declarations stay with the run, so the report's paths keep pointing at real files.
    expect(readFileSync(camera?.declaration?.path ?? '', 'utf8')).toMatch(/interfaces:/);
    expect(verifyEvidenceChain(join(out, 'evidence.jsonl')).ok).toBe(true);
    // --format renders into the run folder, and the signed bundle still verifies with the extra files.
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<html/);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/camera/);
    const verify = await cli(['verify', out]);
    expect(verify.code).toBe(0);

    // The lab is down again: nothing listens where the camera's telnet was.
    const telnet = camera?.services.find((s) => s.protocol === 'telnet');
    const probe = await cli(['run', '--target', camera?.address ?? '', '--ports', String(telnet?.port), '--scanner', 'builtin', '--timeout', '300', '--json', '--out', join(out, '..', 'after')]);
    expect(ReportSchema.parse(JSON.parse(probe.stdout)).targets[0]?.services).toEqual([]);
  });
});

describe('progress', () => {
  it('shows targets done/total and the current step on a terminal, and nothing when piped', async () => {
    const args = ['demo', '--out', join(tmp('tty-'), 'run'), '--exclude-ports', '2024'];
    // `script` gives the CLI a pseudo-terminal, as a person's shell would.
    const tty = await execa('script', ['-qec', `node ${BIN} ${args.join(' ')}`, '/dev/null'], { reject: false, timeout: 60_000 });
    expect(tty.exitCode).toBe(0);
    expect(tty.stdout).toMatch(/\[\d\/5 targets\] (camera|plug|hub|sensor|router): /);
    const piped = await cli(['demo', '--out', join(tmp('pipe-'), 'run'), '--exclude-ports', '2024']);
    expect(piped.stderr).not.toMatch(/targets\]/);
    expect(piped.stdout).not.toMatch(/targets\]/);
  });
});
