import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBES } from '../probes/registry.js';
import { builtinProfileIds } from '../profiles/loader.js';
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

  it('README gives exactly the two set-up commands, and .ci/run runs the second', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('npm install && npx iot-harness demo');
    expect(readme).toContain('npm run test:ci');
    expect(readFileSync(join(root, '.ci', 'run'), 'utf8')).toMatch(/^npm run test:ci$/m);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['test:ci']).toBe('bash scripts/test-ci.sh');
  });
});
