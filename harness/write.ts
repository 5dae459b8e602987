import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type Manifest, MANIFEST_SCHEMA_ID, signerOf, signManifest } from './bundle.js';
import { ReportError } from './errors.js';
import { harnessVersion } from './paths.js';
import { type Report, ReportSchema } from './report-schema.js';
import { resolveSigningKey } from './signing-key.js';

/** Write through a temp file and rename: a crash never leaves half a report behind. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function fileEntry(dir: string, name: string): { path: string; sha256: string; bytes: number } {
  const data = readFileSync(join(dir, name));
  return { path: name, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/** Every file in the run folder (declarations included), except the manifest itself. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((f) => f !== 'manifest.json' && f !== 'manifest.sig' && !f.endsWith('.tmp'))
    .sort();
}

/**
 * report.json (validated against its schema first: a report other tools cannot read is a harness
 * bug) and manifest.json: every file's hash and the evidence chain head, so a record cut from the end
 * of evidence.jsonl is found too.
 */
export function writeRunFiles(dir: string, report: Report, chain: { records: number; head: string }, signingKey?: string): void {
  const checked = ReportSchema.safeParse(report);
  if (!checked.success) throw new ReportError(`report.json failed its own schema: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  writeAtomic(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeManifest(dir, report, chain, signingKey);
}

/**
 * manifest.json: every file in the run folder with its sha256, the evidence chain's head and length,
 * tool and profile versions, and the signer's public key; manifest.sig: its ed25519 signature, by the
 * `signingKey` file or the user's own key (see signing-key.ts). Written and signed again whenever a
 * writer adds a file (`report --format`).
 */
export function writeManifest(dir: string, report: Report, chain: { records: number; head: string }, signingKey?: string): void {
  const key = resolveSigningKey(signingKey);
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA_ID,
    runId: report.run.id,
    createdAt: new Date().toISOString(),
    files: listFiles(dir).map((f) => fileEntry(dir, f)),
    evidence: chain,
    tools: { harness: harnessVersion(), node: process.version, profiles: report.run.profiles },
    signer: signerOf(key),
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  writeAtomic(join(dir, 'manifest.json'), text);
  writeAtomic(join(dir, 'manifest.sig'), signManifest(Buffer.from(text, 'utf8'), key));
}
