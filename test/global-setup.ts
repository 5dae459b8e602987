import { execFileSync } from 'node:child_process';

/** CLI tests run the real binary: build once so they never test a stale dist/. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
