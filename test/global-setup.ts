import { execFileSync } from 'node:child_process';

/**
 * CLI tests run the real binary: build once so they never test a stale dist/. `npm run test:ci`
 * builds just before and sets IOT_HARNESS_BUILT=1 to skip the second build.
 */
export default function setup(): void {
  if (process.env.IOT_HARNESS_BUILT === '1') return;
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
