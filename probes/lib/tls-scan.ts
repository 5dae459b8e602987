import type { Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import { readBounded, writeSafely } from '../../harness/io.js';
import {
  MODERN_CLIENT_SUITES,
  MODERN_TLS13_SUITES,
  SSL2_ALL_KINDS,
  SSL2_WEAK_CLASSES,
  WEAK_CLASSES,
  WEAK_CLASS_NAMES,
  suiteName,
  type WeakClass,
} from '../wire/cipher-suites.js';
import { SSL2_VERSION, buildSsl2ClientHello, ssl2AnswerComplete } from '../wire/ssl2.js';
import { TLS_VERSIONS, suitesForVersion, versionClientHello, type HelloVersion, type TlsVersionName } from '../wire/tls-hello.js';
import { serverFlightComplete } from '../wire/tls-server.js';
import { connectFailure, evidenceOf, hexVersion, ssl2Reply, tlsReply, type Exchange, type HelloAnswer, type Reply } from './tls-reply.js';

/**
 * The TLS handshake engine: one hand-built hello per question, each on its own connection, read up to
 * the end of the server's plaintext flight. It answers "which versions does this port speak", "does it
 * accept a weak suite class" and "what does it pick for a current client", with the raw bytes of every
 * exchange as evidence. Refusals, resets and silence are answers, never exceptions.
 */

export type { TlsVersionName } from '../wire/tls-hello.js';
export type { WeakClass } from '../wire/cipher-suites.js';
export type { HelloAnswer } from './tls-reply.js';

/** Every version the sweep asks about, oldest first (the order of `sweepVersions` results). */
export const ALL_VERSIONS: readonly TlsVersionName[] = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Bytes kept from one answer: a ServerHello plus a certificate chain fits with room to spare. */
export const MAX_FLIGHT_BYTES = 64 * 1024;

export interface ScanOptions {
  /** Deadline for one exchange: connect, send the hello, read the answer. */
  timeoutMs: number;
  signal: AbortSignal;
  /** SNI host name; leave unset for an IP-only device (SNI never carries an IP address). */
  serverName?: string;
}

export interface HelloResult {
  /** The version the hello asked for. */
  version: TlsVersionName;
  /** True only when the server answered with a ServerHello (or HelloRetryRequest) for exactly `version`. */
  offered: boolean;
  answer: HelloAnswer;
  /** The version the server's hello chose, as a name (`TLSv1.0`...) or hex when unknown; set on every ServerHello. */
  negotiated?: string;
  /** The suite (2-byte) or SSLv2 cipher kind (3-byte) in the server's hello. */
  cipher?: number;
  cipherName?: string;
  /** TLS alert description. */
  alert?: number;
  /** SSLv2 ERROR code. */
  ssl2Error?: number;
  /** DER certificates, leaf first, from a plaintext (SSLv2, SSLv3 to TLS 1.2) handshake. */
  certificates?: Buffer[];
  elapsedMs: number;
  /** The exchange that decided the result. */
  evidence: EvidenceInput;
  /**
   * TLS 1.0-1.2 only: the first hello, with extensions, when the server hung up on it; `evidence` is then
   * the retry without extensions (old embedded stacks drop any hello that carries extensions).
   */
  firstAttempt?: EvidenceInput;
}

export interface WeakClassResult {
  class: WeakClass;
  /** The server picked a suite of this class from a hello that offered only that class. */
  accepted: boolean;
  /** Version of the handshake that accepted it. */
  version?: TlsVersionName;
  cipher?: number;
  cipherName?: string;
  /** Every exchange tried for this class, in order. */
  evidence: EvidenceInput[];
}

export interface DefaultSuite {
  version: TlsVersionName;
  cipher: number;
  cipherName: string;
  evidence: EvidenceInput;
}

/** One connection, one hello, one bounded read. Listening starts before the hello goes out, so nothing is missed. */
async function exchange(net: Egress, ip: string, port: number, hello: Buffer, until: (d: Buffer) => boolean, options: ScanOptions): Promise<Exchange> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const conn = await net.connectTcp(ip, port, { timeoutMs: options.timeoutMs, signal: options.signal });
  if (!conn.ok) return { kind: 'connect-failed', reason: conn.reason, code: conn.code, message: conn.message, elapsedMs: elapsed() };
  const socket = conn.socket;
  try {
    const remaining = Math.max(1, options.timeoutMs - conn.elapsedMs);
    const reading = readBounded(socket, { maxBytes: MAX_FLIGHT_BYTES, timeoutMs: remaining, until, signal: options.signal });
    // A failed write shows up in the read as a reset or close: that is the answer.
    await writeSafely(socket, hello);
    const read = await reading;
    return { kind: 'read', read, elapsedMs: elapsed() };
  } finally {
    socket.destroy();
  }
}

function isVersionName(name: string): name is TlsVersionName {
  return (ALL_VERSIONS as readonly string[]).includes(name);
}

async function sendHello(net: Egress, ip: string, port: number, hello: Buffer, isSsl2: boolean, options: ScanOptions): Promise<Reply> {
  const ex = await exchange(net, ip, port, hello, isSsl2 ? ssl2AnswerComplete : serverFlightComplete, options);
  if (ex.kind === 'connect-failed') return connectFailure(ex);
  return isSsl2 ? ssl2Reply(ex.read, ex.elapsedMs) : tlsReply(ex.read, ex.elapsedMs);
}

/**
 * Ask whether the server speaks `version`: one hello offering only that version and every suite a
 * device of that era might use. Offered means a ServerHello (or, for TLS 1.3, a HelloRetryRequest)
 * for exactly that version; a ServerHello for another version is recorded and means not offered.
 */
export async function probeVersion(net: Egress, ip: string, port: number, version: TlsVersionName, options: ScanOptions): Promise<HelloResult> {
  const isSsl2 = version === 'SSLv2';
  const { hello, reply, elapsedMs, firstAttempt } = await ask(net, ip, port, version, undefined, options);
  const wanted = isSsl2 ? SSL2_VERSION : TLS_VERSIONS[version];
  const isHello = reply.answer === 'server-hello' || (reply.answer === 'hello-retry' && version === 'TLSv1.3');
  const offered = isHello && reply.negotiated === wanted;
  const verdict = offered ? `${version} offered` : reply.negotiated !== undefined ? `${version} not offered (the server chose ${hexVersion(reply.negotiated)})` : `${version} not offered`;
  const evidence = evidenceOf(port, `${version} ${isSsl2 ? 'CLIENT-HELLO' : 'ClientHello'} → ${verdict}`, hello, reply, { version, offered });
  const result: HelloResult = { version, offered, answer: reply.answer, elapsedMs, evidence };
  if (firstAttempt) result.firstAttempt = firstAttempt;
  if (reply.negotiated !== undefined) result.negotiated = hexVersion(reply.negotiated);
  if (reply.cipher !== undefined) {
    result.cipher = reply.cipher;
    result.cipherName = suiteName(reply.cipher);
  }
  if (reply.alert !== undefined) result.alert = reply.alert;
  if (reply.ssl2Error !== undefined) result.ssl2Error = reply.ssl2Error;
  if (reply.certificates) result.certificates = reply.certificates;
  return result;
}

/** Versions whose hello is retried without extensions when the server hangs up on it. */
const EXTENSION_FALLBACK: readonly HelloVersion[] = ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'];

interface Asked {
  /** The hello that got `reply`. */
  hello: Buffer;
  reply: Reply;
  elapsedMs: number;
  /** The hello with extensions the server hung up on, when a retry without them followed. */
  firstAttempt?: EvidenceInput;
}

/**
 * Send `version`'s hello offering `suites` (default: the broad list for that version). A TLS 1.0-1.2
 * hello the server hangs up on is asked once more without extensions: a server that parsed the hello
 * and refuses says so with an alert, while some old embedded stacks drop any hello with extensions.
 */
async function ask(net: Egress, ip: string, port: number, version: TlsVersionName, suites: readonly number[] | undefined, options: ScanOptions): Promise<Asked> {
  if (version === 'SSLv2') {
    const hello = buildSsl2ClientHello({ kinds: suites ?? SSL2_ALL_KINDS });
    const reply = await sendHello(net, ip, port, hello, true, options);
    return { hello, reply, elapsedMs: reply.elapsedMs };
  }
  const helloOpts = { ...helloOptions(options), ...(suites === undefined ? {} : { ciphers: suites }) };
  const hello = versionClientHello(version, helloOpts);
  const reply = await sendHello(net, ip, port, hello, false, options);
  if (!EXTENSION_FALLBACK.includes(version) || (reply.answer !== 'closed' && reply.answer !== 'reset')) return { hello, reply, elapsedMs: reply.elapsedMs };
  const firstAttempt = evidenceOf(port, `${version} ClientHello → hung up; retrying without extensions`, hello, reply, { version });
  const bare = versionClientHello(version, { ...helloOpts, extensions: false });
  const retry = await sendHello(net, ip, port, bare, false, options);
  return { hello: bare, reply: retry, elapsedMs: reply.elapsedMs + retry.elapsedMs, firstAttempt };
}

function helloOptions(options: ScanOptions): { serverName?: string } {
  return options.serverName === undefined ? {} : { serverName: options.serverName };
}

/**
 * All six versions, each on its own connection, concurrently (the egress caps connections per device).
 * Results come back in `ALL_VERSIONS` order.
 */
export async function sweepVersions(net: Egress, ip: string, port: number, options: ScanOptions): Promise<HelloResult[]> {
  return Promise.all(ALL_VERSIONS.map((version) => probeVersion(net, ip, port, version, options)));
}

/** The `tls.versions` split of a sweep. */
export function versionSummary(results: readonly HelloResult[]): { offered: TlsVersionName[]; notOffered: TlsVersionName[] } {
  return { offered: results.filter((r) => r.offered).map((r) => r.version), notOffered: results.filter((r) => !r.offered).map((r) => r.version) };
}

/** Versions a weak class is tried at, best first: TLS 1.3 has no such suites; SSLv2 comes last. */
const WEAK_ORDER: readonly TlsVersionName[] = ['TLSv1.2', 'TLSv1.1', 'TLSv1.0', 'SSLv3', 'SSLv2'];

async function tryWeakClass(net: Egress, ip: string, port: number, cls: WeakClass, versions: readonly TlsVersionName[], options: ScanOptions): Promise<WeakClassResult> {
  const evidence: EvidenceInput[] = [];
  for (const version of versions) {
    const isSsl2 = version === 'SSLv2';
    const suites = isSsl2 ? SSL2_WEAK_CLASSES[cls] : suitesForVersion(version, WEAK_CLASSES[cls]);
    if (suites.length === 0) continue;
    const { hello, reply, firstAttempt } = await ask(net, ip, port, version, suites, options);
    if (firstAttempt) evidence.push(firstAttempt);
    // SSLv2: the server lists the kinds it shares; TLS: the one suite it picked must be from our list.
    const picked = isSsl2 ? reply.ssl2Kinds?.find((k) => suites.includes(k)) : reply.cipher !== undefined && suites.includes(reply.cipher) ? reply.cipher : undefined;
    const accepted = reply.answer === 'server-hello' && picked !== undefined;
    const what = `${cls} suites only (${suites.length}) in a ${version} hello → ${accepted ? 'accepted' : 'refused'}`;
    evidence.push(evidenceOf(port, what, hello, reply, { weakClass: cls, version, accepted }));
    if (accepted && picked !== undefined) {
      const negotiated = reply.negotiated === undefined ? version : hexVersion(reply.negotiated);
      const result: WeakClassResult = { class: cls, accepted: true, cipher: picked, cipherName: suiteName(picked), evidence };
      result.version = isVersionName(negotiated) ? negotiated : version;
      return result;
    }
  }
  if (evidence.length === 0) {
    evidence.push({ kind: 'note', summary: `${cls}: no suite of this class exists at the offered versions (${versions.join(', ')}); nothing to ask`, port, transport: 'tcp' });
  }
  return { class: cls, accepted: false, evidence };
}

/**
 * For each weak class (NULL, EXPORT, anonymous, RC4, DES/3DES): a hello offering only that class's
 * suites, at each offered version from TLS 1.2 down to SSLv3, then SSLv2 if offered, until one is
 * accepted. Classes run concurrently; versions within a class one after another.
 */
export async function probeWeakClasses(net: Egress, ip: string, port: number, offered: readonly TlsVersionName[], options: ScanOptions): Promise<WeakClassResult[]> {
  const versions = WEAK_ORDER.filter((v) => offered.includes(v));
  if (versions.length === 0) {
    const note: EvidenceInput = { kind: 'note', summary: 'no version below TLS 1.3 is offered; TLS 1.3 defines no NULL, EXPORT, anonymous, RC4 or DES suites', port, transport: 'tcp' };
    return WEAK_CLASS_NAMES.map((cls) => ({ class: cls, accepted: false, evidence: [note] }));
  }
  return Promise.all(WEAK_CLASS_NAMES.map((cls) => tryWeakClass(net, ip, port, cls, versions, options)));
}

const BEST_FIRST: readonly TlsVersionName[] = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1.0', 'SSLv3', 'SSLv2'];

/**
 * What the server picks for a current client (browser-like suite list) at its best offered version.
 * Undefined when nothing is offered or the server refuses such a client: then only weak suites get in.
 */
export async function defaultSuite(net: Egress, ip: string, port: number, offered: readonly TlsVersionName[], options: ScanOptions): Promise<DefaultSuite | undefined> {
  const best = BEST_FIRST.find((v) => offered.includes(v));
  if (best === undefined) return undefined;
  const isSsl2 = best === 'SSLv2';
  const suites = isSsl2 ? SSL2_ALL_KINDS : suitesForVersion(best, best === 'TLSv1.3' ? MODERN_TLS13_SUITES : MODERN_CLIENT_SUITES);
  const { hello, reply } = await ask(net, ip, port, best, suites, options);
  const isHello = reply.answer === 'server-hello' || reply.answer === 'hello-retry';
  // In SSLv2 the client chooses from the server's list: a current-day client would take the strongest.
  const cipher = isSsl2 ? SSL2_ALL_KINDS.find((k) => reply.ssl2Kinds?.includes(k)) : reply.cipher;
  const evidence = evidenceOf(port, `current-client hello at ${best} (${suites.length} suites) → ${isHello ? 'default suite' : 'refused'}`, hello, reply, { version: best, purpose: 'default-suite' });
  if (!isHello || cipher === undefined || reply.negotiated === undefined) return undefined;
  const negotiated = hexVersion(reply.negotiated);
  return { version: isVersionName(negotiated) ? negotiated : best, cipher, cipherName: suiteName(cipher), evidence };
}
