import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdownWriter, mdCode, mdText, renderMarkdown } from '../../reports/markdown.js';
import type { RunModel } from '../../reports/types.js';
import { fixedRunModel } from './fixed-run-model.js';

const run = fixedRunModel();
/** The column order of the table: what needs attention first. */
const ORDER = ['FAIL', 'INCONCLUSIVE', 'PASS', 'NOT_APPLICABLE', 'NOT_ASSESSED'] as const;

function countOf(run: RunModel, target: string, scheme: string, verdict: string): number {
  return run.report.targets.find((t) => t.id === target)?.verdicts.filter((v) => v.scheme === scheme && v.verdict === verdict).length ?? -1;
}

describe('markdown writer', () => {
  it('renders the fixed run model as the stored summary', async () => {
    await expect(renderMarkdown(run, { htmlReport: 'report.html' })).toMatchFileSnapshot('./__snapshots__/summary.md');
  });

  it('gives each target a table row per scheme with the verdict counts and the label', () => {
    const md = renderMarkdown(run).split('\n');
    expect(md).toContain(`| Scheme | ${ORDER.join(' | ')} | Label |`);
    for (const t of run.report.targets) {
      expect(md).toContain(`## ${mdText(t.id)} (${t.address})`);
      for (const label of t.labels) {
        const counts = ORDER.map((v) => countOf(run, t.id, label.scheme, v));
        const row = md.find((l) => l.startsWith(`| ${label.scheme} | `) && md.indexOf(l) > md.indexOf(`## ${mdText(t.id)} (${t.address})`));
        expect(row, `${t.id} ${label.scheme}`).toBeDefined();
        expect(row).toContain(`| ${label.scheme} | ${counts.join(' | ')} | `);
        expect(row).toContain(label.ready ? '**ready**' : '**not ready**');
      }
    }
    // The levelled scheme says which level the camera reached, and that is none.
    expect(md.find((l) => l.startsWith('| sg-cls |'))).toMatch(/\*\*not ready\*\*, no level reached: \d+ blocking the next level \|$/);
  });

  it('lists every FAIL and INCONCLUSIVE with its rationale, and nothing that passed', () => {
    const md = renderMarkdown(run);
    const total = (v: string): number => run.report.targets.flatMap((t) => t.verdicts).filter((x) => x.verdict === v).length;
    expect(md).toContain(`**Verdicts:** ${total('FAIL')} FAIL, ${total('INCONCLUSIVE')} INCONCLUSIVE, ${total('PASS')} PASS, ${total('NOT_APPLICABLE')} NOT_APPLICABLE, ${total('NOT_ASSESSED')} NOT_ASSESSED`);
    for (const t of run.report.targets) {
      for (const v of t.verdicts) {
        const line = `- **${v.scheme} ${mdText(v.provision)}** ${mdText(v.title)}: ${mdText(v.rationale)}`;
        if (v.verdict === 'FAIL' || v.verdict === 'INCONCLUSIVE') expect(md, `${t.id} ${v.scheme} ${v.provision}`).toContain(line);
        else expect(md).not.toContain(line);
      }
      const fails = t.verdicts.filter((v) => v.verdict === 'FAIL').length;
      if (fails) expect(md).toContain(`### FAIL (${fails})`);
    }
    expect(md).toContain('- **etsi-en-303-645 5.1-1** No universal default passwords: telnet on tcp/23 accepted root/xc3511');
  });

  it('writes summary.md, linking report.html only when the page is in the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'md-writer-'));
    expect(await markdownWriter.write(run, dir)).toEqual(['summary.md']);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).not.toContain('report.html');
    writeFileSync(join(dir, 'report.html'), '<!doctype html>');
    await markdownWriter.write(run, dir);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('[report.html](report.html)');
  });

  it('keeps device text from becoming markup: no HTML, no broken table, no heading', () => {
    const hostile = structuredClone(run);
    const target = hostile.report.targets[0];
    const fail = target?.verdicts.find((v) => v.verdict === 'FAIL');
    if (!target || !fail) throw new Error('the fixture has a FAIL');
    fail.rationale = 'banner <script>alert(1)</script> | col\n# heading [link](http://x) `code`';
    target.id = 'cam|<b>';
    const md = renderMarkdown(hostile);
    expect(md).not.toContain('<script>');
    expect(md).toContain('banner \\<script\\>alert(1)\\</script\\> \\| col # heading \\[link\\](http://x) \\`code\\`');
    expect(md).toContain('## cam\\|\\<b\\> (127.0.0.11)');
    expect(md.split('\n').some((l) => l.startsWith('# heading'))).toBe(false);
    expect(mdCode('a `b` c')).toBe('``a `b` c``');
    expect(mdCode('`edge')).toBe('`` `edge ``');
  });
});
