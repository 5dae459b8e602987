import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { blob, escapeBytes, EvidenceLog, GENESIS, unescapeBytes, verifyEvidenceChain } from '../../harness/evidence.js';

function makeLog(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'evidence-')), 'evidence.jsonl');
  const log = new EvidenceLog(path);
  log.record('cam', 'discovery', { kind: 'banner', summary: 'SSH banner', port: 22, transport: 'tcp', received: Buffer.from('SSH-2.0-dropbear\r\n') });
  log.record('cam', 'discovery', { kind: 'exchange', summary: 'TLS hello', port: 443, transport: 'tcp', sent: Buffer.from([0x16, 3, 1]), received: Buffer.from([0x15, 3, 3, 0, 2, 2, 40]) });
  log.record('cam', 'discovery', { kind: 'note', summary: 'third' });
  log.record('hub', 'discovery', { kind: 'note', summary: 'fourth', data: { a: 1 } });
  expect(log.count).toBe(4);
  log.close();
  return path;
}

const lines = (path: string): string[] => readFileSync(path, 'utf8').trimEnd().split('\n');
const save = (path: string, l: string[]): void => writeFileSync(path, `${l.join('\n')}\n`);

describe('evidence chain', () => {
  let path: string;
  beforeEach(() => {
    path = makeLog();
  });

  it('links every record to the one before it, from the genesis hash', () => {
    const records = lines(path).map((l) => JSON.parse(l) as { seq: number; id: string; prev: string; hash: string });
    expect(records.map((r) => r.id)).toEqual(['ev-000001', 'ev-000002', 'ev-000003', 'ev-000004']);
    expect(records[0]?.prev).toBe(GENESIS);
    for (let i = 1; i < records.length; i++) expect(records[i]?.prev).toBe(records[i - 1]?.hash);
    const check = verifyEvidenceChain(path);
    expect(check).toEqual({ ok: true, records: 4, head: records[3]?.hash, problems: [] });
  });

  it('detects an edited byte', () => {
    const l = lines(path);
    l[1] = (l[1] as string).replace('TLS hello', 'TLS hellp');
    save(path, l);
    const check = verifyEvidenceChain(path);
    expect(check.ok).toBe(false);
    expect(check.problems.join('\n')).toMatch(/line 2 \(ev-000002\): content does not match its hash/);
  });

  it('detects a removed record', () => {
    const l = lines(path);
    l.splice(1, 1);
    save(path, l);
    expect(verifyEvidenceChain(path).problems.join('\n')).toMatch(/line 2 \(ev-000003\): does not follow the record before it/);
  });

  it('detects two swapped records', () => {
    const l = lines(path);
    [l[1], l[2]] = [l[2] as string, l[1] as string];
    save(path, l);
    const check = verifyEvidenceChain(path);
    expect(check.ok).toBe(false);
    expect(check.problems.some((p) => p.includes('sequence number 3, expected 2'))).toBe(true);
  });

  it('detects an inserted or appended forgery that reuses a real hash', () => {
    const l = lines(path);
    const last = JSON.parse(l.at(-1) as string) as Record<string, unknown>;
    l.push(JSON.stringify({ ...last, seq: 5, id: 'ev-000005', summary: 'forged', prev: last.hash }));
    save(path, l);
    expect(verifyEvidenceChain(path).problems.join('\n')).toMatch(/line 5 \(ev-000005\): content does not match its hash/);
  });

  it('refuses to reuse an existing log file: a run never writes over evidence', () => {
    expect(() => new EvidenceLog(path)).toThrow(/EEXIST/);
  });
});

describe('byte blobs', () => {
  it('escapes reversibly and caps the kept text but hashes everything captured', () => {
    const raw = Buffer.from([0x53, 0x5c, 0x00, 0xff, 0x0a, 0x41]);
    expect(escapeBytes(raw)).toBe('S\\\\\\x00\\xff\nA');
    expect(unescapeBytes(escapeBytes(raw)).equals(raw)).toBe(true);
    const big = blob(Buffer.alloc(10_000, 0x41));
    expect(big).toMatchObject({ bytes: 10_000, truncated: true });
    expect(big.text.length).toBe(4096);
    expect(big.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
