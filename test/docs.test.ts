import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBES } from '../probes/registry.js';
import { builtinProfileIds, loadProfileFile } from '../profiles/loader.js';
import { renderPortsDoc } from '../scripts/ports-doc.js';

const root = join(import.meta.dirname, '..');

describe('docs', () => {
  it('docs/ports.md is current with the port groups in harness/ports.ts', () => {
    expect(readFileSync(join(root, 'docs', 'ports.md'), 'utf8')).toBe(renderPortsDoc());
  });

  it('every profile and every probe has its doc page', () => {
    for (const id of builtinProfileIds()) expect(existsSync(join(root, 'docs', 'profiles', `${id}.md`)), id).toBe(true);
    for (const p of PROBES) expect(existsSync(join(root, 'docs', 'probes', `${p.meta.id}.md`)), p.meta.id).toBe(true);
  });

  it("README's custom profile example loads as written", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const yaml = /```yaml\n(# acme-baseline\.yaml[^\n]*\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'readme-'));
    writeFileSync(join(dir, 'acme-baseline.yaml'), yaml ?? '');
    const p = loadProfileFile(join(dir, 'acme-baseline.yaml'));
    expect(p).toMatchObject({ id: 'acme-baseline', scheme: 'etsi-en-303-645' });
    expect(p.provisions.find((x) => x.id === 'ACME-1')).toBeDefined();
  });

  it('README gives exactly the two set-up commands, and .ci/run runs the second', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('npm install && npx iot-harness demo');
    expect(readme).toContain('npm run test:ci');
    expect(readFileSync(join(root, '.ci', 'run'), 'utf8')).toMatch(/^npm run test:ci$/m);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['test:ci']).toBe('bash scripts/test-ci.sh');
  });
});
