import { createHash, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBeforeResigning } from '../../harness/bundle-commands.js';
import { type Manifest, verifyBundle } from '../../harness/bundle.js';
import { HarnessError } from '../../harness/errors.js';
import { configDir, fingerprint } from '../../harness/signing-key.js';
import { cli, type CliResult, countingServer, type CountingServer, STACK, tmp } from '../cli/helpers.js';
import { allocHost } from '../peers/alias.js';

let server: CountingServer;
let host: string;
/** A real run folder, signed with `keyFile`; every test tampers with its own copy. */
let original: string;
let keyFile: string;
let publicKeyFile: string;

function runArgs(out: string): string[] {
  return ['run', '--target', host, '--ports', String(server.port), '--profile', 'etsi-en-303-645', '--scanner', 'builtin', '--timeout', '300', '--safe', '--out', out];
}

function newKey(dir: string, name: string): { privateFile: string; publicFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateFile = join(dir, `${name}.pem`);
  const publicFile = join(dir, `${name}.pub.pem`);
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateFile, publicFile };
}

beforeAll(async () => {
  host = await allocHost([]);
  server = await countingServer(host, 'SSH-2.0-dropbear_2022.83\r\n');
  const dir = tmp('bundle-');
  ({ privateFile: keyFile, publicFile: publicKeyFile } = newKey(dir, 'lab'));
  original = join(dir, 'run');
  const r = await cli([...runArgs(original), '--signing-key', keyFile]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

afterAll(async () => {
  await server.close();
});

/** A fresh copy of the signed run folder to tamper with. */
function copy(): string {
  const dir = join(tmp('tamper-'), 'run');
  cpSync(original, dir, { recursive: true });
  return dir;
}

const evidenceLines = (dir: string): string[] => readFileSync(join(dir, 'evidence.jsonl'), 'utf8').trimEnd().split('\n');
const saveEvidence = (dir: string, lines: readonly string[]): void => writeFileSync(join(dir, 'evidence.jsonl'), `${lines.join('\n')}\n`);
const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

async function verify(dir: string, ...extra: string[]): Promise<CliResult> {
  return cli(['verify', dir, ...extra]);
}

/** Tampering must exit 1, name each expected problem, and never look like a crash. */
function expectDetected(r: CliResult, ...problems: RegExp[]): void {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toMatch(/NOT intact: \d+ problems?/);
  for (const p of problems) expect(r.stdout).toMatch(p);
  expect(r.stderr).not.toMatch(STACK);
}

describe('a signed run folder', () => {
  it('holds manifest.json naming its signer and a manifest.sig that signs its exact bytes', () => {
    const manifest = readManifest(original);
    const lab = createPublicKey(readFileSync(publicKeyFile));
    expect(manifest.signer).toEqual({ algorithm: 'ed25519', publicKey: lab.export({ type: 'spki', format: 'pem' }), fingerprint: fingerprint(lab) });
    expect(manifest.files.map((f) => f.path)).toEqual(['evidence.jsonl', 'report.json']);
    expect(manifest.evidence.records).toBe(evidenceLines(original).length);
    // The swap and insert cases below need at least three records.
    expect(evidenceLines(original).length).toBeGreaterThanOrEqual(3);
    expect(verifyBundle(original, { key: lab })).toMatchObject({ ok: true, problems: [], signer: { fingerprint: fingerprint(lab), pinned: true } });
  });

  it('verifies intact: exit 0, and says the embedded key is not pinned', async () => {
    const r = await verify(original);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/run: intact: 2 files match the manifest, \d+ evidence records chained/);
    expect(r.stdout).toMatch(/the key embedded in manifest\.json: not pinned/);
  });

  it('verifies intact with --key of the signer: exit 0, pinned', async () => {
    const r = await verify(original, '--key', publicKeyFile);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(the key given with --key\)/);
    // A private key file works as --key too: its public half is used.
    expect((await verify(original, '--key', keyFile)).code).toBe(0);
  });
});

describe('verify detects', () => {
  it('one byte of an evidence record edited', async () => {
    const dir = copy();
    const lines = evidenceLines(dir);
    lines[1] = (lines[1] as string).replace('"summary":"', '"summary":"X');
    saveEvidence(dir, lines);
    expectDetected(
      await verify(dir),
      /evidence\.jsonl line 2 \(ev-000002\): content does not match its hash \(edited\)/,
      /evidence\.jsonl: sha256 differs from the manifest \(edited\)/,
    );
  });

  it('a record deleted from the middle', async () => {
    const dir = copy();
    const lines = evidenceLines(dir);
    lines.splice(1, 1);
    saveEvidence(dir, lines);
    expectDetected(
      await verify(dir),
      /evidence\.jsonl line 2 \(ev-000003\): does not follow the record before it \(removed, reordered or inserted\)/,
      /evidence\.jsonl: \d+ records, the manifest recorded \d+ \(records removed\)/,
    );
  });

  it('the last record cut off (the chain itself stays valid)', async () => {
    const dir = copy();
    saveEvidence(dir, evidenceLines(dir).slice(0, -1));
    const r = await verify(dir);
    expectDetected(r, /evidence\.jsonl: \d+ records, the manifest recorded \d+ \(records removed\)/);
    expect(r.stdout).not.toMatch(/line \d+/);
  });

  it('two records swapped', async () => {
    const dir = copy();
    const lines = evidenceLines(dir);
    [lines[1], lines[2]] = [lines[2] as string, lines[1] as string];
    saveEvidence(dir, lines);
    expectDetected(
      await verify(dir),
      /evidence\.jsonl line 2 \(ev-000003\): does not follow the record before it/,
      /evidence\.jsonl line 2 \(ev-000003\): sequence number 3, expected 2/,
      /evidence\.jsonl: sha256 differs from the manifest/,
    );
  });

  it('a record appended, even one correctly chained to the last', async () => {
    const dir = copy();
    const last = JSON.parse(evidenceLines(dir).at(-1) as string) as { seq: number; hash: string; target: string };
    const seq = last.seq + 1;
    // The same construction as EvidenceLog.record: a forger who knows the format gets a valid chain.
    const body = { seq, id: `ev-${String(seq).padStart(6, '0')}`, time: new Date().toISOString(), target: last.target, probe: 'discovery', kind: 'note', summary: 'nothing to see here', prev: last.hash };
    appendFileSync(join(dir, 'evidence.jsonl'), `${JSON.stringify({ ...body, hash: sha256(JSON.stringify(body)) })}\n`);
    const r = await verify(dir);
    expectDetected(r, /evidence\.jsonl: \d+ records, the manifest recorded \d+ \(records appended or inserted\)/, /evidence\.jsonl: sha256 differs from the manifest/);
    expect(r.stdout).not.toMatch(/line \d+/);
  });

  it('a record inserted', async () => {
    const dir = copy();
    const lines = evidenceLines(dir);
    lines.splice(2, 0, lines[1] as string);
    saveEvidence(dir, lines);
    expectDetected(await verify(dir), /evidence\.jsonl line 3 \(ev-000002\): does not follow the record before it/, /\(records appended or inserted\)/);
  });

  it('report.json edited', async () => {
    const dir = copy();
    const path = join(dir, 'report.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"verdict": "INCONCLUSIVE"/, '"verdict": "PASS"'));
    const r = await verify(dir);
    expectDetected(r, /report\.json: sha256 differs from the manifest \(edited\)/);
    expect(r.stdout).not.toMatch(/evidence\.jsonl/);
    expect(r.stdout).not.toMatch(/manifest\.sig/);
  });

  it('report.json deleted', async () => {
    const dir = copy();
    rmSync(join(dir, 'report.json'));
    expectDetected(await verify(dir), /report\.json: listed in the manifest but missing \(removed\)/);
  });

  it('evidence.jsonl deleted', async () => {
    const dir = copy();
    rmSync(join(dir, 'evidence.jsonl'));
    expectDetected(await verify(dir), /evidence\.jsonl: listed in the manifest but missing \(removed\)/);
  });

  it('a stray file added', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'notes.txt'), 'added later\n');
    expectDetected(await verify(dir), /notes\.txt: not in the manifest \(added after the run was signed\)/);
  });

  it('manifest.json edited to match an edited report.json', async () => {
    const dir = copy();
    const report = join(dir, 'report.json');
    writeFileSync(report, readFileSync(report, 'utf8').replace(/"verdict": "INCONCLUSIVE"/, '"verdict": "PASS"'));
    const manifest = readManifest(dir);
    for (const f of manifest.files) if (f.path === 'report.json') f.sha256 = sha256(readFileSync(report));
    writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const r = await verify(dir);
    expectDetected(r, /manifest\.sig: not a valid signature of manifest\.json by SHA256:\S+: manifest\.json or manifest\.sig was edited/);
    expect(r.stdout).not.toMatch(/report\.json: sha256/);
  });

  it('one byte of manifest.json edited', async () => {
    const dir = copy();
    const path = join(dir, 'manifest.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"createdAt": "2', '"createdAt": "1'));
    expectDetected(await verify(dir), /manifest\.sig: not a valid signature of manifest\.json/);
  });

  it('manifest.sig deleted', async () => {
    const dir = copy();
    rmSync(join(dir, 'manifest.sig'));
    expectDetected(await verify(dir), /manifest\.sig: missing \(removed\): manifest\.json is unsigned/);
  });

  it('manifest.sig replaced with garbage', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'manifest.sig'), 'not a signature\n');
    expectDetected(await verify(dir), /manifest\.sig: not a valid signature of manifest\.json/);
  });

  it('manifest.json deleted', async () => {
    const dir = copy();
    rmSync(join(dir, 'manifest.json'));
    expectDetected(await verify(dir), /manifest\.json: missing \(removed\): nothing to check the files against/);
  });

  it('a --key other than the signer', async () => {
    const other = newKey(tmp('other-key-'), 'other');
    expectDetected(await verify(original, '--key', other.publicFile), /manifest\.json: signed by SHA256:\S+, not by the pinned key SHA256:\S+ \(re-signed by someone else\)/, /manifest\.sig: not a valid signature/);
  });

  it('a run re-signed by someone else: intact by its own key, caught once the lab key is pinned', async () => {
    const dir = copy();
    const report = join(dir, 'report.json');
    writeFileSync(report, readFileSync(report, 'utf8').replace(/"verdict": "INCONCLUSIVE"/, '"verdict": "PASS"'));
    const forger = generateKeyPairSync('ed25519');
    const manifest = readManifest(dir);
    for (const f of manifest.files) if (f.path === 'report.json') Object.assign(f, { sha256: sha256(readFileSync(report)), bytes: statSync(report).size });
    manifest.signer = { algorithm: 'ed25519', publicKey: forger.publicKey.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: fingerprint(forger.publicKey) };
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    writeFileSync(join(dir, 'manifest.json'), text);
    writeFileSync(join(dir, 'manifest.sig'), sign(null, Buffer.from(text), forger.privateKey).toString('base64'));
    const unpinned = await verify(dir);
    expect(unpinned.code).toBe(0);
    expect(unpinned.stdout).toContain(`Signer: ${fingerprint(forger.publicKey)}, the key embedded in manifest.json: not pinned`);
    expectDetected(await verify(dir, '--key', publicKeyFile), /not by the pinned key/);
  });

  it('--json gives the same problems as data', async () => {
    const dir = copy();
    rmSync(join(dir, 'report.json'));
    const r = await verify(dir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, problems: ['report.json: listed in the manifest but missing (removed)'] });
  });
});

describe('verify on bad input', () => {
  it.each([
    ['a missing folder', (d: string) => join(d, 'nope'), /nope: not a folder; give the folder of an iot-harness run/],
    ['a folder that is not a run', (d: string) => d, /not an iot-harness run folder/],
  ])('%s: exit 2 with a message', async (_name, pick, message) => {
    const r = await verify(pick(tmp('not-run-')));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('an unreadable --key: exit 2 naming it', async () => {
    const dir = tmp('badkey-');
    writeFileSync(join(dir, 'k.pem'), 'garbage');
    const r = await verify(original, '--key', join(dir, 'k.pem'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--key .*k\.pem: not a PEM public key/);
  });
});

describe('re-rendering', () => {
  it('report --format re-signs the manifest, listing the new file, with the key it is given', async () => {
    const dir = copy();
    const other = newKey(tmp('rerender-key-'), 'other');
    const r = await cli(['report', dir, '--format', 'markdown', '--signing-key', other.privateFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: .* was signed by SHA256:\S+; it is re-signed by your key SHA256:\S+/);
    expect(readManifest(dir).files.map((f) => f.path)).toEqual(['evidence.jsonl', 'report.json', 'summary.md']);
    expect((await verify(dir, '--key', other.publicFile)).code).toBe(0);
    expectDetected(await verify(dir, '--key', publicKeyFile), /not by the pinned key/);
  });

  it('report --format refuses a folder that no longer verifies: exit 2, nothing re-signed', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'report.json'), readFileSync(join(dir, 'report.json'), 'utf8').replace(/"verdict": "INCONCLUSIVE"/, '"verdict": "PASS"'));
    const manifestBefore = readFileSync(join(dir, 'manifest.json'));
    const r = await cli(['report', dir, '--format', 'markdown', '--signing-key', keyFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not verify, so it is not re-rendered or re-signed:\n {2}- report\.json: sha256 differs from the manifest/);
    expect(r.stderr).not.toMatch(STACK);
    expect(readFileSync(join(dir, 'manifest.json'))).toEqual(manifestBefore);
    expect(existsSync(join(dir, 'summary.md'))).toBe(false);
  });

  it('refuses to re-sign a folder that no longer verifies', () => {
    const dir = copy();
    writeFileSync(join(dir, 'report.json'), readFileSync(join(dir, 'report.json'), 'utf8').replace(/"verdict": "INCONCLUSIVE"/, '"verdict": "PASS"'));
    expect(() => checkBeforeResigning(dir, keyFile)).toThrow(/does not verify, so it is not re-rendered or re-signed:\n {2}- report\.json: sha256 differs/);
    expect(() => checkBeforeResigning(copy(), keyFile)).not.toThrow();
    try {
      checkBeforeResigning(dir, keyFile);
    } catch (err) {
      expect(err).toBeInstanceOf(HarnessError);
      expect((err as HarnessError).isInputError).toBe(true);
    }
  });
});

describe('the signing key', () => {
  it('is generated once in the config folder (0600) with a notice, then reused silently', async () => {
    const config = join(tmp('config-'), 'iot-harness');
    const env = { IOT_HARNESS_CONFIG_DIR: config };
    const first = await cli(runArgs(join(tmp('key1-'), 'run')).concat([]), { env });
    const keyPath = join(config, 'signing-key.pem');
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`iot-harness: created a signing key for run bundles at ${keyPath}`);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const out2 = join(tmp('key2-'), 'run');
    const second = await cli(runArgs(out2), { env });
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    const fromFile = createPublicKey(readFileSync(keyPath));
    expect(readManifest(out2).signer.fingerprint).toBe(fingerprint(fromFile));
    expect((await cli(['verify', out2, '--key', keyPath])).code).toBe(0);
  });

  it('lives under $XDG_CONFIG_HOME/iot-harness when IOT_HARNESS_CONFIG_DIR is not set', async () => {
    const xdg = tmp('xdg-');
    expect(configDir({ XDG_CONFIG_HOME: xdg })).toBe(join(xdg, 'iot-harness'));
    expect(configDir({ HOME: '/home/lab' })).toMatch(/\.config[/\\]iot-harness$/);
    const r = await cli(runArgs(join(tmp('xdg-run-'), 'run')), { env: { IOT_HARNESS_CONFIG_DIR: '', XDG_CONFIG_HOME: xdg } });
    expect(r.code).toBe(0);
    expect(existsSync(join(xdg, 'iot-harness', 'signing-key.pem'))).toBe(true);
  });

  it.each([
    ['a missing file', () => join(tmp('nokey-'), 'missing.pem'), /--signing-key .*missing\.pem: cannot be read \(ENOENT\)/],
    ['a file that is not a key', () => { const f = join(tmp('badkey-'), 'bad.pem'); writeFileSync(f, 'not a key\n'); return f; }, /--signing-key .*bad\.pem: not a PEM private key/],
    [
      'an RSA key',
      () => {
        const f = join(tmp('rsakey-'), 'rsa.pem');
        writeFileSync(f, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
        return f;
      },
      /--signing-key .*rsa\.pem: a rsa key; manifests are signed with ed25519/,
    ],
  ])('--signing-key with %s: exit 2 naming it, before any probing, nothing written', async (_name, make, message) => {
    const out = join(tmp('badsign-'), 'run');
    const before = server.connections();
    const r = await cli([...runArgs(out), '--signing-key', make()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(out)).toBe(false);
    expect(server.connections()).toBe(before);
  });
});
