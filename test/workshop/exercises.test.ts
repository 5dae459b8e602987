import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { allocHost } from '../peers/alias.js';
import { BIN, tmp } from '../cli/helpers.js';

// Every workshop exercise is tested by running the commands its page shows, exactly as written, and
// checking the output the page promises. The page is the test's input: a page edited without its
// commands still working fails here.
//
// Format, in ```console blocks: a line `$ command` is run with bash; the lines after it, up to the
// next `$`, are output the command must print, in that order (whitespace-insensitive, so wrapped
// table lines match; `...` inside a line matches anything, and a line that is only `...` is skipped).
// Every command must exit 0: a page that wants to show an exit code writes `; echo "exit code: $?"`.

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'workshop');

interface Step {
  command: string;
  expect: string[];
}

function parseExercise(markdown: string): Step[] {
  const steps: Step[] = [];
  const blocks = markdown.matchAll(/^```console\n([\s\S]*?)^```$/gm);
  for (const [, body] of blocks) {
    for (const line of (body ?? '').split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2).trim(), expect: [] });
      else if (line.trim() !== '' && line.trim() !== '...') steps.at(-1)?.expect.push(line);
    }
  }
  return steps;
}

const squash = (text: string): string => text.replace(/\s+/g, ' ').trim();
const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Index just past `expected` in `output` from `from`, or -1; `...` in `expected` matches anything. */
function findFrom(output: string, expected: string, from: number): number {
  const pattern = new RegExp(squash(expected).split('...').map((part) => escapeRegex(part.trim())).join('.*?'));
  const match = pattern.exec(output.slice(from));
  return match ? from + match.index + match[0].length : -1;
}

/** A folder with an `iot-harness` command on PATH that runs this checkout, as `npm link` would. */
function shim(): string {
  const dir = tmp('workshop-bin-');
  const file = join(dir, 'iot-harness');
  writeFileSync(file, `#!/bin/sh\nexec node ${JSON.stringify(BIN)} "$@"\n`);
  chmodSync(file, 0o755);
  return dir;
}

const pages = readdirSync(DOCS).filter((f) => /^\d\d-.*\.md$/.test(f)).sort();

describe('workshop exercises (docs/workshop)', () => {
  const bin = shim();
  let env: Record<string, string> = {};
  let cwd = '';

  afterEach(async () => {
    // Whatever happened, the exercise's lab goes down with it.
    await execa('bash', ['-c', 'iot-harness lab down'], { cwd, env, reject: false });
  });

  it('has the five exercises, each with commands and outcomes', () => {
    expect(pages).toHaveLength(5);
    for (const page of pages) {
      const steps = parseExercise(readFileSync(join(DOCS, page), 'utf8'));
      expect(steps.length, page).toBeGreaterThan(1);
      expect(steps.filter((s) => s.expect.length > 0).length, page).toBeGreaterThan(0);
      expect(readFileSync(join(DOCS, page), 'utf8'), page).toMatch(/^## Expected outcome/m);
    }
  });

  /** Runs every command of a page as a fresh participant would, with `lab up` given `labFlags`. */
  async function runPage(page: string, labFlags: string): Promise<void> {
    // A fresh participant: own config folder (so its own lab folder and signing key), own working folder.
    const home = tmp('workshop-home-');
    cwd = join(home, 'workshop');
    mkdirSync(cwd);
    env = { CI: '1', IOT_HARNESS_CONFIG_DIR: join(home, 'config'), PATH: `${bin}:${process.env.PATH ?? ''}` };
    for (const step of parseExercise(readFileSync(join(DOCS, page), 'utf8'))) {
      // The one change to the page's commands: where the lab's devices live (see the callers).
      const command = step.command.replace(/\biot-harness lab up\b/g, `iot-harness lab up ${labFlags}`);
      const r = await execa('bash', ['-c', command], { cwd, env, all: true, reject: false, timeout: 180_000 });
      const output = squash(r.all ?? '');
      expect(r.exitCode, `${page}: \`${step.command}\` exited ${r.exitCode}:\n${r.all ?? ''}`).toBe(0);
      let at = 0;
      for (const expected of step.expect) {
        const next = findFrom(output, expected, at);
        expect(next, `${page}: \`${step.command}\` did not print (in order) "${expected}":\n${r.all ?? ''}`).toBeGreaterThanOrEqual(0);
        at = next;
      }
    }
  }

  for (const page of pages) {
    // Aliases from a random 127.x.y.z, so the suites running beside this one (the demo on
    // 127.0.0.11) never see this lab's devices.
    it(page, async () => runPage(page, `--base-address ${await allocHost([])}`), 600_000);
  }

  // Where there are no loopback aliases (macOS, Windows) every device shares 127.0.0.1 on its own
  // ports; the pages must hold there too. The hardening exercise covers both kinds of run and diff.
  it('04-harden-and-rerun.md, with every device on 127.0.0.1 as on macOS and Windows', async () => runPage('04-harden-and-rerun.md', '--no-aliases'), 600_000);
});
