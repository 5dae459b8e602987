import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { diffRuns } from '../reports/diff.js';
import { renderDiff } from '../reports/diff-text.js';
import { readRunModel } from '../reports/render.js';
import { verifyBundle } from './bundle.js';
import { ConfigError } from './errors.js';
import { displayPath } from './input.js';
import { fingerprint, readPublicKey, resolveSigningKey } from './signing-key.js';

/**
 * Resolve the signing key before any work, so a bad `--signing-key` stops the command with exit 2,
 * and say where the key was put the first time one is generated. Returns the value for `signingKey`.
 */
export function prepareSigningKey(file: string | undefined): string | undefined {
  const key = resolveSigningKey(file);
  if (key.created) {
    process.stderr.write(
      `iot-harness: created a signing key for run bundles at ${key.path} (${fingerprint(key.publicKey)}). Every manifest.json is signed with it: keep it, ` +
        `and hand its public key to whoever checks your runs (iot-harness verify RUN_DIR --key PUBLIC.pem). Give --signing-key FILE to use your own.\n`,
    );
  }
  return file;
}

/**
 * Before `report` re-signs a run folder: the folder must still verify, or re-rendering would put a
 * fresh signature over edited files. A folder with no manifest at all has nothing to launder.
 */
export function checkBeforeResigning(dir: string, signingKey: string | undefined): void {
  if (!existsSync(join(dir, 'manifest.json'))) return;
  const check = verifyBundle(dir);
  if (!check.ok) {
    throw new ConfigError(`${displayPath(dir)}: does not verify, so it is not re-rendered or re-signed:\n  - ${check.problems.join('\n  - ')}\n(iot-harness verify ${displayPath(dir)} shows the same)`);
  }
  const mine = fingerprint(resolveSigningKey(signingKey).publicKey);
  if (check.signer && check.signer.fingerprint !== mine) {
    process.stderr.write(`iot-harness: note: ${displayPath(dir)} was signed by ${check.signer.fingerprint}; it is re-signed by your key ${mine}\n`);
  }
}

/** `verify` and `diff`: commands over finished run folders. */
export function addBundleCommands(program: Command, setExit: (code: number) => void): void {
  program
    .command('verify <runDir>')
    .description('check a run folder: manifest.sig signs manifest.json, every file matches its hash, nothing added, the evidence chain intact (exit 1 names each problem)')
    .option('--key <file>', "the signer's public key (PEM) to require; without it the key embedded in the manifest is used, which anyone can replace")
    .option('--json', 'print the result as JSON')
    .action((runDir: string, flags: { key?: string; json?: boolean }) => {
      const key = flags.key === undefined ? undefined : readPublicKey(flags.key);
      const check = verifyBundle(runDir, key ? { key } : {});
      setExit(check.ok ? 0 : 1);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ dir: runDir, ...check }, null, 2)}\n`);
        return;
      }
      const name = displayPath(runDir);
      const lines: string[] = [];
      if (check.ok) lines.push(`${name}: intact: ${check.files} files match the manifest${check.evidence ? `, ${check.evidence.records} evidence records chained to head ${check.evidence.head.slice(0, 16)}…` : ''}`);
      else lines.push(`${name}: NOT intact: ${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}`, ...check.problems.map((p) => `  - ${p}`));
      if (check.signer?.pinned) lines.push(`Signer: ${check.signer.fingerprint} (the key given with --key)`);
      else if (check.signer) {
        lines.push(`Signer: ${check.signer.fingerprint}, the key embedded in manifest.json: not pinned. Anyone who edits a run can re-sign it with a key of their own; give --key PUBLIC.pem to require the lab's key.`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('diff <runA> <runB>')
    .description('compare two runs per target: services opened or closed, verdicts changed, regressions first (exit 1 when anything regressed)')
    .option('--json', 'print the diff as JSON')
    .action((runA: string, runB: string, flags: { json?: boolean }) => {
      const diff = diffRuns(readRunModel(runA).report, readRunModel(runB).report);
      if (flags.json) process.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
      else process.stdout.write(renderDiff(diff, { before: displayPath(runA), after: displayPath(runB) }));
      setExit(diff.regressed ? 1 : 0);
    });
}
