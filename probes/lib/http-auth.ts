// HTTP authentication as devices speak it, shared by the HTTP and RTSP login probes (RTSP reuses HTTP's
// WWW-Authenticate / Authorization headers unchanged): challenge parsing (RFC 9110 §11), Basic (RFC 7617)
// and Digest (RFC 7616, with RFC 2617's MD5-sess and RFC 2069's no-qop form that old cameras still send).
import { createHash, randomBytes } from 'node:crypto';
import type { EvidenceInput } from '../../harness/evidence.js';
import type { AttemptResult } from './login.js';

/** One challenge from a `WWW-Authenticate` header, as the device wrote it. */
export interface Challenge {
  /** The scheme as sent (`Basic`, `Digest`, `NTLM`); compare case-insensitively. */
  scheme: string;
  /** Parameter names lower-cased, values unquoted and unescaped. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the scheme used it instead of parameters. */
  token68?: string;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Every challenge in one or more `WWW-Authenticate` values. A value may carry several challenges
 * (`Basic realm="a", Digest realm="b", nonce="n"`), and quoted strings may hold commas, equals signs
 * and escaped quotes. Never throws: what cannot be read is skipped.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (typeof header !== 'string') return header.flatMap((h) => parseChallenges(h));
  const out: Challenge[] = [];
  const s = header;
  let i = 0;
  let current: Challenge | undefined;
  const skipSpace = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN.test(s[i] as string)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // s[i] is the opening quote.
    i++;
    let value = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i];
      i++;
    }
    i++; // closing quote (or past the end of a truncated header)
    return value;
  };
  while (i < s.length) {
    skipSpace();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const token = readToken();
    if (token === '') {
      // A stray character: skip to the next comma.
      while (i < s.length && s[i] !== ',') i++;
      continue;
    }
    skipSpace();
    if (s[i] === '=' && current) {
      i++;
      skipSpace();
      current.params[token.toLowerCase()] = s[i] === '"' ? readQuoted() : readToken();
      continue;
    }
    // A token not followed by `=` starts a new challenge; a token68 (`abc==`) may follow the scheme.
    current = { scheme: token, params: {} };
    out.push(current);
    const rest = s.slice(i);
    const t68 = TOKEN68.exec(rest)?.[0];
    // `realm="x"` and `nonce=abc` also start like a token68 (`realm=`): only one that ends the challenge is one.
    const after = t68 === undefined ? undefined : rest.slice(t68.length).trimStart();
    if (t68 !== undefined && (after === '' || after?.startsWith(','))) {
      current.token68 = t68;
      i += t68.length;
    }
  }
  return out;
}

/** `Authorization` value for Basic (RFC 7617): UTF-8, as every device and browser sends it today. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Digest algorithms this module computes. */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

const HASHES: Record<string, string> = { 'MD5': 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** A Digest challenge this module can answer. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** The qop values offered; empty for an RFC 2069 challenge (no qop at all). */
  qop: string[];
  /** The server says the previous nonce expired and the credentials were fine: retry with the new one. */
  stale: boolean;
  /** RFC 7616 §3.4.4: send H(username:realm) instead of the username. */
  userhash: boolean;
}

/**
 * The Digest challenge in a form we can answer, or undefined when it is not Digest, lacks a nonce, names
 * an algorithm we do not know, or offers only qops we cannot do (`auth-int` is done for empty bodies).
 */
export function toDigestChallenge(c: Challenge): DigestChallenge | undefined {
  if (c.scheme.toLowerCase() !== 'digest') return undefined;
  const { nonce } = c.params;
  if (nonce === undefined) return undefined;
  const raw = c.params.algorithm ?? 'MD5';
  const algorithm = (Object.keys(HASHES).flatMap((a) => [a, `${a}-sess`]) as DigestAlgorithm[]).find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!algorithm) return undefined;
  const qop = (c.params.qop ?? '').split(',').map((q) => q.trim().toLowerCase()).filter(Boolean);
  if (qop.length > 0 && !qop.includes('auth') && !qop.includes('auth-int')) return undefined;
  return {
    realm: c.params.realm ?? '',
    nonce,
    ...(c.params.opaque !== undefined ? { opaque: c.params.opaque } : {}),
    algorithm,
    qop,
    stale: (c.params.stale ?? '').toLowerCase() === 'true',
    userhash: (c.params.userhash ?? '').toLowerCase() === 'true',
  };
}

export interface DigestRequest {
  method: string;
  /** The request-target exactly as on the request line (RTSP: the absolute `rtsp://` URI). */
  uri: string;
  username: string;
  password: string;
  /** Default: 16 random bytes in hex. Fixed only in tests against published examples. */
  cnonce?: string;
  /** Nonce count for this nonce, from 1. Default 1. */
  nc?: number;
  /** Entity body, for `qop=auth-int` only. Default: empty. */
  body?: Buffer;
}

function hashWith(algorithm: DigestAlgorithm): (text: string | Buffer) => string {
  const name = HASHES[algorithm.replace(/-sess$/, '')] as string;
  return (text) => createHash(name).update(text).digest('hex');
}

/** A quoted-string with `\` and `"` escaped. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The `Authorization` value answering a Digest challenge: RFC 7616 §3.4 (qop=auth preferred, auth-int
 * for an empty body when it is all the server offers), RFC 2617 §3.2.2.2 for the `-sess` variants, and
 * RFC 2069 (no qop, no cnonce, no nc) when the challenge offers no qop.
 */
export function digestAuthorization(challenge: DigestChallenge, request: DigestRequest): string {
  const H = hashWith(challenge.algorithm);
  const cnonce = request.cnonce ?? randomBytes(16).toString('hex');
  const nc = (request.nc ?? 1).toString(16).padStart(8, '0');
  const qop = challenge.qop.includes('auth') ? 'auth' : challenge.qop.includes('auth-int') ? 'auth-int' : undefined;
  let ha1 = H(`${request.username}:${challenge.realm}:${request.password}`);
  if (challenge.algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = qop === 'auth-int' ? H(`${request.method}:${request.uri}:${H(request.body ?? Buffer.alloc(0))}`) : H(`${request.method}:${request.uri}`);
  const response = qop ? H(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${challenge.nonce}:${ha2}`);
  const username = challenge.userhash ? H(`${request.username}:${challenge.realm}`) : request.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(request.uri)}`,
    // RFC 2069 clients sent no algorithm; sending MD5 to such a server is harmless, but stay literal.
    ...(qop || challenge.algorithm !== 'MD5' ? [`algorithm=${challenge.algorithm}`] : []),
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`] : []),
    `response=${quote(response)}`,
    ...(challenge.opaque !== undefined ? [`opaque=${quote(challenge.opaque)}`] : []),
    ...(challenge.userhash ? ['userhash=true'] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}

/** How to answer a set of challenges: the scheme a careful client picks, or none we can do. */
export type AuthPlan = { scheme: 'Basic'; realm?: string } | { scheme: 'Digest'; challenge: DigestChallenge };

/**
 * Digest before Basic whatever the order (RFC 9110 §11.6.1: use the most secure scheme understood);
 * among Digest challenges, the first one we can answer, as RFC 7616 §3.7 lists them by preference.
 */
export function choosePlan(challenges: readonly Challenge[]): AuthPlan | undefined {
  for (const c of challenges) {
    const digest = toDigestChallenge(c);
    if (digest) return { scheme: 'Digest', challenge: digest };
  }
  const basic = challenges.find((c) => c.scheme.toLowerCase() === 'basic');
  if (basic) return basic.params.realm !== undefined ? { scheme: 'Basic', realm: basic.params.realm } : { scheme: 'Basic' };
  return undefined;
}

/** Readable names of what was offered: `Digest SHA-256`, `Basic`, `NTLM`. */
export function describeChallenges(challenges: readonly Challenge[]): string[] {
  return challenges.map((c) => (c.scheme.toLowerCase() === 'digest' ? `Digest ${c.params.algorithm ?? 'MD5'}` : c.scheme));
}

/** True when any challenge invites Basic, i.e. the password in base64 on the wire. */
export function offersBasic(challenges: readonly Challenge[]): boolean {
  return challenges.some((c) => c.scheme.toLowerCase() === 'basic');
}

/** What the device's answer to a request carrying credentials says about them. */
export type AuthJudgement = { outcome: 'accepted' | 'rejected' } | { outcome: 'locked' | 'unavailable'; detail: string };

/** Words devices use when they lock an account or the client out. */
const LOCKED = /\b(locked|lockout|lock-out|too many (failed |login |unsuccessful )?(attempts|logins|tries|requests)|try again later)\b/i;

/** Where a redirect after a login attempt leads back to a login page: the credentials were refused. */
const LOGIN_PAGE = /(login|logon|signin|sign-in|auth)/i;

/**
 * Judge the answer to a request that carried credentials (HTTP and RTSP share status codes here).
 * `text` is the reason phrase plus what was read of the body; `location` the redirect target's path.
 * 401 is a refusal (a lock when the text says so); 403 after the 401 challenge and 429 are a lockout;
 * 2xx, and 3xx to anything but a login page, grant access; 5xx and anything else cannot be judged.
 */
export function judgeAuthenticatedAnswer(status: number, text: string, location?: string): AuthJudgement {
  if (status === 401) return LOCKED.test(text) ? { outcome: 'locked', detail: `401 with lockout text: ${LOCKED.exec(text)?.[0] ?? ''}` } : { outcome: 'rejected' };
  if (status === 403) return { outcome: 'locked', detail: '403 Forbidden where the service had challenged with 401' };
  if (status === 429) return { outcome: 'locked', detail: '429 Too Many Requests' };
  if (LOCKED.test(text) && status >= 400) return { outcome: 'locked', detail: `${status} with lockout text: ${LOCKED.exec(text)?.[0] ?? ''}` };
  if (status >= 200 && status < 300) return { outcome: 'accepted' };
  if (status >= 300 && status < 400) {
    if (location !== undefined && LOGIN_PAGE.test(location)) return { outcome: 'rejected' };
    return { outcome: 'accepted' };
  }
  if (status >= 500) return { outcome: 'unavailable', detail: `server error ${status}` };
  return { outcome: 'unavailable', detail: `unexpected status ${status} to a request with credentials` };
}

/** The judgement with its evidence, as `tryCredentials` takes it. */
export function toAttemptResult(judgement: AuthJudgement, evidence: EvidenceInput): AttemptResult {
  if ('detail' in judgement) return { outcome: judgement.outcome, evidence, detail: judgement.detail };
  return { outcome: judgement.outcome, evidence };
}

/**
 * Nonce counts per nonce (RFC 7616 §3.4: nc increases for every request with the same nonce). Devices with
 * a fixed nonce reject a repeated nc as a replay, which would make right credentials look wrong.
 */
export class NonceCounter {
  readonly #counts = new Map<string, number>();
  next(nonce: string): number {
    const n = (this.#counts.get(nonce) ?? 0) + 1;
    this.#counts.set(nonce, n);
    return n;
  }
}
