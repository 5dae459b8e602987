import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * CLI tests run the real binary: build once so they never test a stale dist/. `npm run test:ci`
 * builds just before and sets IOT_HARNESS_BUILT=1 to skip the second build.
 *
 * Every run signs its manifest with the user's key: tests get a config folder of their own, with a
 * key already in it, so they neither write into the real ~/.config nor see the first-run notice.
 * Workers and the processes they spawn inherit the variable.
 */
export default function setup(): (() => void) | undefined {
  let cleanup: (() => void) | undefined;
  if (process.env.IOT_HARNESS_CONFIG_DIR === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'iot-harness-config-'));
    writeFileSync(join(dir, 'signing-key.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    process.env.IOT_HARNESS_CONFIG_DIR = dir;
    cleanup = () => rmSync(dir, { recursive: true, force: true });
  }
  if (process.env.IOT_HARNESS_BUILT !== '1') execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  return cleanup;
}
