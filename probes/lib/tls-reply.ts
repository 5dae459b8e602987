import type { EvidenceInput } from '../../harness/evidence.js';
import type { BoundedRead } from '../../harness/io.js';
import { suiteName } from '../wire/cipher-suites.js';
import { SSL2_ERRORS, SSL2_VERSION, parseSsl2Answer } from '../wire/ssl2.js';
import { versionName } from '../wire/tls-hello.js';
import { alertName, parseServerFlight } from '../wire/tls-server.js';

/**
 * Judging one hello's answer: the bytes a server sent back (or why the connection failed) read and
 * classified as a `Reply`, and the evidence that records it. What the answer means for a version or a
 * weak class is for the scan (`tls-scan.ts`) to say.
 */

/** How the server answered one hello. */
export type HelloAnswer =
  | 'server-hello'
  /** A TLS 1.3 HelloRetryRequest: the server speaks TLS 1.3 and wants another key share. */
  | 'hello-retry'
  /** A TLS alert, or an SSLv2 ERROR message (then `ssl2Error` is set). */
  | 'alert'
  /** The server closed the connection without answering. */
  | 'closed'
  | 'reset'
  | 'timeout'
  /** The answer is not TLS (or SSLv2): text, noise, or a malformed record. */
  | 'not-tls'
  /** The TCP connection was refused: nothing listens (any more). */
  | 'refused'
  /** The run was stopped before an answer came. */
  | 'aborted';

/** What one exchange got: the server's bytes, or why the connection failed. */
export type Exchange =
  | { kind: 'read'; read: BoundedRead; elapsedMs: number }
  | { kind: 'connect-failed'; reason: string; code: string; message: string; elapsedMs: number };

/** What one hello got back, before judging what it means for a version or a class. */
export interface Reply {
  answer: HelloAnswer;
  /** Negotiated version number (0x0002 for SSLv2). */
  negotiated?: number;
  cipher?: number;
  /** SSLv2: every cipher kind the SERVER-HELLO lists. */
  ssl2Kinds?: number[];
  alert?: number;
  ssl2Error?: number;
  certificates?: Buffer[];
  /** Handshake messages seen (evidence detail). */
  messages?: number[];
  /** The TLS 1.3 downgrade marker in a <= 1.2 ServerHello. */
  downgrade?: string;
  elapsedMs: number;
  /** One-line account of the answer, for the evidence summary. */
  said: string;
  data: Record<string, unknown>;
  received?: Buffer;
}

function endAnswer(read: BoundedRead): HelloAnswer {
  switch (read.end) {
    case 'closed':
    case 'reset':
    case 'aborted':
    case 'timeout':
      return read.end;
    default:
      // A full read (or the cap) without a ServerHello or an alert in it.
      return 'not-tls';
  }
}

const END_WORDS: Record<string, string> = {
  closed: 'connection closed without an answer',
  reset: 'connection reset',
  timeout: 'no answer before the deadline',
  aborted: 'stopped by the run',
  'not-tls': 'an answer that is not TLS',
};

export function connectFailure(ex: Extract<Exchange, { kind: 'connect-failed' }>): Reply {
  const answer: HelloAnswer = ex.reason === 'refused' ? 'refused' : ex.reason === 'timeout' ? 'timeout' : ex.reason === 'aborted' ? 'aborted' : 'reset';
  return { answer, elapsedMs: ex.elapsedMs, said: `connection failed: ${ex.reason} (${ex.code})`, data: { connect: ex.reason, code: ex.code } };
}

/** Judge the bytes a TLS (or SSLv2-answering) server sent back. */
export function tlsReply(read: BoundedRead, elapsedMs: number): Reply {
  const base = { elapsedMs, received: read.data, data: { readEnd: read.end, bytes: read.data.length, dropped: read.dropped } as Record<string, unknown> };
  const flight = parseServerFlight(read.data);
  const hello = flight.serverHello;
  if (hello) {
    const reply: Reply = {
      ...base,
      answer: hello.helloRetry ? 'hello-retry' : 'server-hello',
      negotiated: hello.version,
      cipher: hello.cipher,
      messages: flight.messages,
      said: `${hello.helloRetry ? 'HelloRetryRequest' : 'ServerHello'} ${versionName(hello.version)} ${suiteName(hello.cipher)}`,
    };
    if (flight.certificates) {
      reply.certificates = flight.certificates;
      reply.said += `, ${flight.certificates.length} certificate(s)`;
    }
    if (hello.downgrade) {
      reply.downgrade = hello.downgrade;
      reply.said += ` (downgrade marker: the server also speaks ${hello.downgrade === 'TLSv1.2' ? 'TLSv1.3' : 'TLSv1.2 or above'})`;
    }
    return reply;
  }
  if (flight.alert) {
    return { ...base, answer: 'alert', alert: flight.alert.description, said: `alert ${alertName(flight.alert.description)} (${flight.alert.description}, level ${flight.alert.level})` };
  }
  // Nothing, or the start of a record and then silence or a close: the way the read ended is the answer.
  const isNoise = !flight.isTls || flight.messages.length > 0;
  const answer = read.data.length > 0 && isNoise ? 'not-tls' : endAnswer(read);
  return { ...base, answer, said: END_WORDS[answer] ?? answer };
}

export function ssl2Reply(read: BoundedRead, elapsedMs: number): Reply {
  const parsed = parseSsl2Answer(read.data);
  if (parsed.kind === 'server-hello') {
    const reply: Reply = {
      answer: 'server-hello',
      negotiated: parsed.version,
      ssl2Kinds: parsed.cipherSpecs,
      elapsedMs,
      received: read.data,
      said: `SSLv2 SERVER-HELLO version 0x${parsed.version.toString(16).padStart(4, '0')}, cipher kinds [${parsed.cipherSpecs.map(suiteName).join(', ')}]`,
      data: { readEnd: read.end, bytes: read.data.length, cipherKinds: parsed.cipherSpecs },
    };
    if (parsed.cipherSpecs[0] !== undefined) reply.cipher = parsed.cipherSpecs[0];
    if (parsed.certificate) {
      reply.certificates = [parsed.certificate];
      reply.said += ', 1 certificate';
    }
    return reply;
  }
  if (parsed.kind === 'error') {
    return {
      answer: 'alert',
      ssl2Error: parsed.code,
      elapsedMs,
      received: read.data,
      said: `SSLv2 ERROR ${SSL2_ERRORS.get(parsed.code) ?? parsed.code}`,
      data: { readEnd: read.end, bytes: read.data.length },
    };
  }
  // Not SSLv2: a TLS server's alert (or ServerHello) to a hello it does not understand.
  return tlsReply(read, elapsedMs);
}

/** A negotiated version by name; SSLv2 included. */
export function hexVersion(n: number): string {
  return n === SSL2_VERSION ? 'SSLv2' : versionName(n);
}

/** The evidence of one exchange: what was sent, what came back and how it was judged. */
export function evidenceOf(port: number, what: string, hello: Buffer, reply: Reply, extra: Record<string, unknown>): EvidenceInput {
  const data = { ...reply.data, ...extra, answer: reply.answer, elapsedMs: reply.elapsedMs } as Record<string, unknown>;
  if (reply.negotiated !== undefined) data.negotiated = hexVersion(reply.negotiated);
  if (reply.cipher !== undefined) data.cipher = suiteName(reply.cipher);
  if (reply.alert !== undefined) data.alert = reply.alert;
  if (reply.ssl2Error !== undefined) data.ssl2Error = reply.ssl2Error;
  if (reply.messages) data.handshakeMessages = reply.messages;
  if (reply.certificates) data.certificates = reply.certificates.length;
  if (reply.downgrade) data.downgradeMarker = reply.downgrade;
  if (reply.received === undefined) return { kind: 'connect', summary: `${what}: ${reply.said}`, port, transport: 'tcp', data };
  return { kind: 'exchange', summary: `${what}: ${reply.said}`, port, transport: 'tcp', sent: hello, received: reply.received, data };
}
