import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Transport } from './ports.js';

/** The `prev` of the first record. */
export const GENESIS = '0'.repeat(64);

/** Bytes as evidence: exact length and hash, and the bytes themselves (escaped) up to a cap. */
export interface ByteBlob {
  /** Length of what was captured (after the read cap). */
  bytes: number;
  sha256: string;
  /** Printable ASCII kept as is, other bytes as \xNN, backslash as \\; reversible. */
  text: string;
  /** True when `text` holds only the first `EVIDENCE_TEXT_CAP` bytes. */
  truncated: boolean;
}

/** What a probe hands in. */
export interface EvidenceInput {
  kind: 'banner' | 'exchange' | 'scan' | 'connect' | 'note';
  summary: string;
  port?: number;
  transport?: Transport;
  sent?: Buffer | string;
  received?: Buffer | string;
  data?: Record<string, unknown>;
}

/** One line of evidence.jsonl. */
export interface EvidenceRecord {
  seq: number;
  id: string;
  time: string;
  target: string;
  probe: string;
  kind: EvidenceInput['kind'];
  summary: string;
  port?: number;
  transport?: Transport;
  sent?: ByteBlob;
  received?: ByteBlob;
  data?: Record<string, unknown>;
  prev: string;
  hash: string;
}

/** Bytes kept verbatim per blob; the hash covers everything captured. */
export const EVIDENCE_TEXT_CAP = 4096;

export function escapeBytes(buf: Buffer): string {
  let out = '';
  for (const b of buf) {
    if (b === 0x5c) out += '\\\\';
    else if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function unescapeBytes(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && text[i + 1] === '\\') {
      out.push(0x5c);
      i++;
    } else if (c === 0x5c && text[i + 1] === 'x') {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else out.push(c);
  }
  return Buffer.from(out);
}

export function blob(data: Buffer | string): ByteBlob {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    bytes: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
    text: escapeBytes(buf.subarray(0, EVIDENCE_TEXT_CAP)),
    truncated: buf.length > EVIDENCE_TEXT_CAP,
  };
}

function hashRecord(record: Omit<EvidenceRecord, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

/**
 * evidence.jsonl: append-only, one JSON record per line, each carrying its own sha256 and the previous
 * record's hash. Records are written synchronously in the order they are made, so the file on disk is
 * always a valid chain prefix even if the run dies.
 */
export class EvidenceLog {
  readonly path: string;
  #fd: number | undefined;
  #seq = 0;
  #head = GENESIS;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'wx');
  }

  get head(): string {
    return this.#head;
  }

  get count(): number {
    return this.#seq;
  }

  record(target: string, probe: string, input: EvidenceInput): string {
    if (this.#fd === undefined) throw new Error('evidence log is closed');
    const seq = ++this.#seq;
    const body: Omit<EvidenceRecord, 'hash'> = {
      seq,
      id: `ev-${String(seq).padStart(6, '0')}`,
      time: new Date().toISOString(),
      target,
      probe,
      kind: input.kind,
      summary: input.summary,
      ...(input.port === undefined ? {} : { port: input.port }),
      ...(input.transport === undefined ? {} : { transport: input.transport }),
      ...(input.sent === undefined ? {} : { sent: blob(input.sent) }),
      ...(input.received === undefined ? {} : { received: blob(input.received) }),
      ...(input.data === undefined ? {} : { data: input.data }),
      prev: this.#head,
    };
    const hash = hashRecord(body);
    writeSync(this.#fd, `${JSON.stringify({ ...body, hash })}\n`);
    this.#head = hash;
    return body.id;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

export interface ChainCheck {
  ok: boolean;
  records: number;
  head: string;
  problems: string[];
}

/**
 * Check a chain: every line parses, its hash matches its content, its `prev` is the hash before it and
 * `seq` counts up from 1. Finds edited, removed, reordered and inserted records; a record cut from the
 * end is found by comparing `head`/`records` with the manifest.
 */
export function verifyEvidenceChain(path: string): ChainCheck {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const problems: string[] = [];
  let prev = GENESIS;
  lines.forEach((line, i) => {
    const where = `evidence.jsonl line ${i + 1}`;
    let rec: EvidenceRecord;
    try {
      rec = JSON.parse(line) as EvidenceRecord;
    } catch {
      problems.push(`${where}: not valid JSON (edited or truncated)`);
      prev = '';
      return;
    }
    const { hash, ...body } = rec;
    if (hashRecord(body) !== hash) problems.push(`${where} (${rec.id}): content does not match its hash (edited)`);
    if (rec.prev !== prev) problems.push(`${where} (${rec.id}): does not follow the record before it (removed, reordered or inserted)`);
    if (rec.seq !== i + 1) problems.push(`${where} (${rec.id}): sequence number ${rec.seq}, expected ${i + 1}`);
    prev = hash;
  });
  return { ok: problems.length === 0, records: lines.length, head: lines.length === 0 ? GENESIS : prev, problems };
}
