import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { verifyEvidenceChain } from './evidence.js';
import { displayPath } from './input.js';
import { fingerprint, type SigningKey } from './signing-key.js';

export const MANIFEST_SCHEMA_ID = 'iot-harness/manifest@1';

/** The files of a run folder that sign the rest: never listed in the manifest. */
export const BUNDLE_FILES = ['manifest.json', 'manifest.sig'] as const;

const SignerSchema = z.strictObject({
  algorithm: z.literal('ed25519'),
  publicKey: z.string().describe('the signer\'s public key, SPKI PEM'),
  fingerprint: z.string().describe('SHA256:<base64 of the SPKI DER\'s sha256>, as `ssh-keygen -l` prints it'),
});

/**
 * manifest.json, schema `iot-harness/manifest@1`. manifest.sig is the base64 ed25519 signature over
 * the exact bytes of manifest.json, made with the key named in `signer`.
 */
export const ManifestSchema = z.strictObject({
  schema: z.literal(MANIFEST_SCHEMA_ID),
  runId: z.string(),
  createdAt: z.iso.datetime(),
  files: z
    .array(z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().min(0) }))
    .describe('every file in the run folder except manifest.json and manifest.sig, sorted by path'),
  evidence: z.strictObject({ records: z.number().int().min(0), head: z.string() }).describe('evidence.jsonl: record count and the last record\'s hash'),
  tools: z.strictObject({
    harness: z.string(),
    node: z.string(),
    profiles: z.array(z.strictObject({ id: z.string(), version: z.string() })),
  }),
  signer: SignerSchema,
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type Signer = z.infer<typeof SignerSchema>;

/** What manifest.json says about the key that signs it (written into the manifest before signing). */
export function signerOf(key: SigningKey): Signer {
  return { algorithm: 'ed25519', publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: fingerprint(key.publicKey) };
}

/** manifest.sig's content: the base64 ed25519 signature over manifest.json's exact bytes. */
export function signManifest(manifestBytes: Buffer, key: SigningKey): string {
  return `${sign(null, manifestBytes, key.privateKey).toString('base64')}\n`;
}

export interface BundleCheck {
  ok: boolean;
  /** One line per thing edited, removed, reordered, inserted, appended or unsigned. */
  problems: string[];
  /** The signer checked against, and whether it was pinned with `--key` or taken from the manifest. */
  signer?: { fingerprint: string; pinned: boolean };
  files: number;
  evidence?: { records: number; head: string };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function listAll(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

function readManifest(dir: string, problems: string[]): { bytes: Buffer; manifest?: Manifest } | undefined {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) {
    problems.push('manifest.json: missing (removed): nothing to check the files against');
    return undefined;
  }
  const bytes = readFileSync(path);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    problems.push(`manifest.json: not valid JSON (${(cause as Error).message}): edited`);
    return { bytes };
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problems.push(`manifest.json: not an ${MANIFEST_SCHEMA_ID} file (${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'invalid'}): edited`);
    return { bytes };
  }
  return { bytes, manifest: parsed.data };
}

function checkSignature(dir: string, bytes: Buffer, manifest: Manifest | undefined, pinned: KeyObject | undefined, problems: string[]): BundleCheck['signer'] {
  let embedded: KeyObject | undefined;
  if (manifest) {
    try {
      embedded = createPublicKey(manifest.signer.publicKey);
    } catch (cause) {
      problems.push(`manifest.json: signer.publicKey is not a public key (${(cause as Error).message}): edited`);
    }
    if (embedded && fingerprint(embedded) !== manifest.signer.fingerprint) problems.push('manifest.json: signer.fingerprint does not belong to signer.publicKey: edited');
  }
  if (pinned && embedded && fingerprint(pinned) !== fingerprint(embedded)) {
    problems.push(`manifest.json: signed by ${fingerprint(embedded)}, not by the pinned key ${fingerprint(pinned)} (re-signed by someone else)`);
  }
  const key = pinned ?? embedded;
  const signer = key ? { fingerprint: fingerprint(key), pinned: pinned !== undefined } : undefined;
  const sigPath = join(dir, 'manifest.sig');
  if (!existsSync(sigPath)) {
    problems.push('manifest.sig: missing (removed): manifest.json is unsigned');
    return signer;
  }
  if (!key) {
    problems.push('manifest.sig: cannot be checked: manifest.json names no usable signer; give the expected key with --key');
    return signer;
  }
  const text = readFileSync(sigPath, 'utf8').trim();
  const signature = Buffer.from(text, 'base64');
  // Buffer.from ignores what is not base64: compare back so a mangled file is reported as such.
  const isBase64 = signature.length === 64 && signature.toString('base64') === text;
  if (!isBase64 || !verify(null, bytes, key, signature)) {
    problems.push(`manifest.sig: not a valid signature of manifest.json by ${fingerprint(key)}: manifest.json or manifest.sig was edited${pinned ? ', or another key signed it' : ''}`);
  }
  return signer;
}

/**
 * Check a run folder: manifest.sig signs manifest.json (with `pinned` if given, else the key the
 * manifest names), every listed file is there with its hash, nothing unlisted was added, and
 * evidence.jsonl is an intact chain of the length and head the manifest recorded. Never throws for
 * tampering: every problem is returned. A folder that is not a run folder at all is a ConfigError.
 */
export function verifyBundle(dir: string, options: { key?: KeyObject } = {}): BundleCheck {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${displayPath(dir)}: not a folder; give the folder of an iot-harness run`);
  const present = listAll(dir);
  if (!['manifest.json', 'manifest.sig', 'report.json', 'evidence.jsonl'].some((f) => present.includes(f))) {
    throw new ConfigError(`${displayPath(dir)}: not an iot-harness run folder (no manifest.json, report.json or evidence.jsonl); give the folder a run wrote`);
  }
  const problems: string[] = [];
  const read = readManifest(dir, problems);
  const signer = read ? checkSignature(dir, read.bytes, read.manifest, options.key, problems) : undefined;
  const manifest = read?.manifest;

  if (manifest) {
    const listed = new Set(manifest.files.map((f) => f.path));
    for (const f of manifest.files) {
      const path = join(dir, f.path);
      if (!present.includes(f.path)) problems.push(`${f.path}: listed in the manifest but missing (removed)`);
      else if (sha256(readFileSync(path)) !== f.sha256) problems.push(`${f.path}: sha256 differs from the manifest (edited)`);
    }
    for (const f of present) {
      if (!listed.has(f) && !(BUNDLE_FILES as readonly string[]).includes(f)) problems.push(`${f}: not in the manifest (added after the run was signed)`);
    }
  }

  let evidence: BundleCheck['evidence'];
  if (present.includes('evidence.jsonl')) {
    const chain = verifyEvidenceChain(join(dir, 'evidence.jsonl'));
    problems.push(...chain.problems);
    evidence = { records: chain.records, head: chain.head };
    if (manifest) {
      const want = manifest.evidence;
      if (chain.records < want.records) problems.push(`evidence.jsonl: ${chain.records} records, the manifest recorded ${want.records} (records removed)`);
      else if (chain.records > want.records) problems.push(`evidence.jsonl: ${chain.records} records, the manifest recorded ${want.records} (records appended or inserted)`);
      else if (chain.head !== want.head) problems.push('evidence.jsonl: the last record\'s hash differs from the chain head in the manifest (records edited or replaced)');
    }
  } else if (manifest && !manifest.files.some((f) => f.path === 'evidence.jsonl')) {
    problems.push('evidence.jsonl: missing, and the manifest does not list it either');
  }
  return { ok: problems.length === 0, problems, ...(signer ? { signer } : {}), files: manifest?.files.length ?? 0, ...(evidence ? { evidence } : {}) };
}
