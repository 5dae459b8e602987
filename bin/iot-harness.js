#!/usr/bin/env node
// The CLI is compiled by `npm install` (prepare → build). Running from a checkout that has not been
// built yet gets a clear hint rather than a module-not-found stack.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/harness/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('iot-harness: not built yet. Run `npm install` (or `npm run build`) in the project folder.\n');
  process.exit(3);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
