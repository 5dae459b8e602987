import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import { describeError, egressRequest, type EgressOrigin, originText } from './http-client.js';

/**
 * HTTP(S) GETs to the URLs a declaration names for updates, which need not be the target's own
 * address: every host name is resolved first and every address checked against the run's scope before
 * a packet leaves; redirects are followed only into scope; bodies are streamed through a hash with a
 * byte cap and a deadline, so a multi-gigabyte image never sits in memory.
 */

/** Status codes whose Location is followed. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Where one URL leads: an address in scope on a port that may be contacted. */
export type Origin = EgressOrigin;

/** A URL the probe may or may not contact, and why not. */
export type Reach =
  | { ok: true; origin: Origin; addresses: string[] }
  | { ok: false; inScope: boolean; addresses: string[]; reason: string };

/** The port a URL names, or its scheme's default. */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The system resolver's addresses for `hostname`, within `timeoutMs` (getaddrinfo itself cannot be cancelled). */
async function resolve(hostname: string, timeoutMs: number): Promise<{ addresses: string[] } | { error: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ error: string }>((r) => (timer = setTimeout(() => r({ error: `no answer within ${timeoutMs} ms` }), timeoutMs)));
  const asked = lookup(hostname, { all: true, verbatim: true }).then(
    (found) => ({ addresses: found.map((a) => a.address) }),
    (cause: unknown) => ({ error: (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause)) }),
  );
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Decide whether `url` may be contacted: an http(s) URL whose host (an IP literal, or a name resolved
 * with the system resolver) has every address inside the scope, on a port not excluded. A name with one
 * address outside the scope is out of scope as a whole: which address the device would pick is unknown.
 */
export async function reach(net: Egress, url: URL, timeoutMs: number): Promise<Reach> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, inScope: false, addresses: [], reason: `${url.protocol} is not http or https` };
  const hostname = hostOf(url);
  let addresses: string[];
  if (isIP(hostname)) addresses = [hostname];
  else {
    const resolved = await resolve(hostname, timeoutMs);
    // An update host that does not resolve here is a fact about the lab network, reported as such.
    if ('error' in resolved) return { ok: false, inScope: false, addresses: [], reason: `${hostname} does not resolve (${resolved.error}); nothing was sent` };
    addresses = resolved.addresses;
  }
  const outside = addresses.filter((a) => !net.scope.contains(a));
  const first = addresses[0];
  if (outside.length > 0 || first === undefined) {
    const which = isIP(hostname) ? hostname : `${hostname} (${addresses.join(', ')})`;
    return { ok: false, inScope: false, addresses, reason: `${which} is outside ${net.scope.describe()}; nothing was sent to it` };
  }
  const port = portOf(url);
  if (net.isExcluded(port, 'tcp')) return { ok: false, inScope: true, addresses, reason: `port ${port} is excluded with --exclude-ports; nothing was sent` };
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  return { ok: true, addresses, origin: { scheme, hostname, ip: first, port, ...(isIP(hostname) ? {} : { servername: hostname }) } };
}

/** What was read of a response body. */
export interface BodyRead {
  /** Bytes read and hashed (at most the cap). */
  bytes: number;
  /** SHA-256 of the bytes read: of the whole body when `end` is `complete`, else of its first `bytes`. */
  sha256: string;
  /** Why reading stopped: the body ended, the byte cap, the deadline, or the server broke off. */
  end: 'complete' | 'size-cap' | 'time-limit' | 'cut-short';
  /** The Content-Length the server announced, or null. */
  contentLength: number | null;
  /** What cut the body short, for `cut-short`. */
  detail?: string;
}

/** One GET: the status, or why there was none. */
export interface Answer {
  url: string;
  /** null when no response head arrived. */
  status: number | null;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** Why there is no status: connection refused, TLS failure, timeout, ... */
  error?: string;
  /** Set when the body was read. */
  body?: BodyRead;
  evidence: EvidenceInput;
}

export interface GetOptions {
  /** Deadline for connecting, for the response head, and for any pause inside the body. */
  timeoutMs: number;
  /** Aborts the request; `timeUp()` tells whether it was the caller's time limit. */
  signal: AbortSignal;
  timeUp?: () => boolean;
  /** Read the body of a response with this status? (Default: no: the connection is dropped after the head.) */
  readBody?: (status: number) => boolean;
  /** Bytes read before the body is cut off (`end: 'size-cap'`). */
  maxBytes?: number;
  /** Each chunk of the body as it arrives, after the cap is applied. */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * One GET on a fresh connection from the egress (HTTP/1.1, `connection: close`), through undici. The
 * request as undici wrote it and the response head as the server sent it are the evidence. A body is
 * read only when `readBody` says so, streamed through SHA-256 and `onChunk`, and cut at `maxBytes`:
 * leaving the read destroys the body and undici drops the connection, so the server sees the client stop.
 */
export async function get(net: Egress, origin: Origin, path: string, options: GetOptions): Promise<Answer> {
  const url = `${originText(origin)}${path}`;
  let discarded: Promise<unknown> | undefined;
  const where = { kind: 'exchange', port: origin.port, transport: 'tcp' } as const;
  const label = `GET ${url}${origin.ip === origin.hostname ? '' : ` (${origin.ip})`}`;
  const result = await egressRequest(net, origin, path, {
    headers: { 'user-agent': 'iot-harness', accept: '*/*', connection: 'close' },
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onResponse: async (response) => {
      if (options.readBody?.(response.statusCode)) return readBody(response.body as AsyncIterable<Buffer>, response.headers, options);
      // undici's way to drop a body unread: it reads at most one chunk, then drops the connection, and
      // settles once the body closes (the client's destroy closes it at the latest).
      discarded = response.body.dump({ limit: 1 });
      return undefined;
    },
    describeFailure: (error, failure) =>
      options.timeUp?.() ? 'time limit reached before the response head' : failure ? `connection ${failure.reason} (${failure.code}: ${failure.message.trim()})` : describeError(error),
  });
  await discarded;
  const { sent, received } = result;
  if (!result.ok) {
    const { detail } = result;
    return { url, status: null, statusText: '', headers: {}, error: detail, evidence: { ...where, summary: `${label}: ${detail}`, ...(sent ? { sent } : {}), received } };
  }
  const { response, value: body } = result;
  const bodyText = body ? `; body ${body.bytes} bytes${body.end === 'complete' ? '' : ` (${body.end}${body.detail ? `: ${body.detail}` : ''})`}, sha256 ${body.sha256}` : '';
  return {
    url,
    status: response.statusCode,
    statusText: response.statusText,
    headers: response.headers,
    evidence: { ...where, summary: `${label} → ${response.statusCode} ${response.statusText}${bodyText}`, sent, received, ...(body ? { data: { ...body } } : {}) },
    ...(body ? { body } : {}),
  };
}

async function readBody(body: AsyncIterable<Buffer>, headers: IncomingHttpHeaders, options: GetOptions): Promise<BodyRead> {
  const cap = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const hash = createHash('sha256');
  const announced = Number(headers['content-length']);
  const contentLength = headers['content-length'] !== undefined && Number.isSafeInteger(announced) ? announced : null;
  let bytes = 0;
  let end: BodyRead['end'] = 'complete';
  let detail: string | undefined;
  try {
    for await (const chunk of body) {
      const room = cap - bytes;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      hash.update(part);
      options.onChunk?.(part);
      bytes += part.length;
      // A body of exactly `cap` bytes is complete: only a byte beyond the cap truncates. Leaving the
      // loop destroys the body, and undici drops the connection with it.
      if (chunk.length > room) {
        end = 'size-cap';
        break;
      }
    }
  } catch (error) {
    if (options.timeUp?.()) end = 'time-limit';
    else {
      end = 'cut-short';
      detail = describeError(error);
    }
  }
  return { bytes, sha256: hash.digest('hex'), end, contentLength, ...(detail === undefined ? {} : { detail }) };
}

/** One redirect the server answered with. */
export interface Hop {
  status: number;
  /** The Location header as sent. */
  location: string;
  /** The absolute URL it names (absent when it does not parse). */
  url?: string;
  followed: boolean;
  /** Why it was not followed. */
  reason?: string;
}

/** A URL fetched with its redirects. */
export interface Fetched {
  /** Whether the first URL could be contacted; when not, `reason` says why and nothing else is set. */
  contacted: boolean;
  inScope: boolean;
  /** Addresses the first URL's host resolved to. */
  addresses: string[];
  reason?: string;
  hops: Hop[];
  /** Schemes of every request made, in order. */
  schemes: ('http' | 'https')[];
  /** Origins requested, in order. */
  origins: Origin[];
  /** The last answer: the resource itself, or a redirect that was not followed. */
  final?: Answer;
  /** The URL of the last request (the first URL or the last redirect followed). */
  finalUrl: URL;
  evidence: EvidenceInput[];
}

export interface FetchOptions extends Omit<GetOptions, 'readBody'> {
  maxRedirects: number;
  /** Called once per origin before its first request (the probe checks certificates there). */
  onOrigin?: (origin: Origin) => Promise<void>;
}

/**
 * GET `start`, following redirects (301, 302, 303, 307, 308) up to `maxRedirects` hops, each only when
 * its target is in scope; every hop is recorded, followed or not. The final body is read through `get`.
 */
export async function fetchFollowing(net: Egress, start: URL, options: FetchOptions): Promise<Fetched> {
  const first = await reach(net, start, options.timeoutMs);
  const result: Fetched = { finalUrl: start, contacted: first.ok, inScope: first.ok || first.inScope, addresses: first.addresses, hops: [], schemes: [], origins: [], evidence: [] };
  if (!first.ok) {
    result.reason = first.reason;
    result.evidence.push({ kind: 'note', summary: `${start.href} not contacted: ${first.reason}` });
    return result;
  }
  let origin = first.origin;
  let url = start;
  const seen = new Set<string>();
  for (;;) {
    const key = `${origin.scheme}://${origin.ip}:${origin.port}/${origin.servername ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      await options.onOrigin?.(origin);
    }
    result.schemes.push(origin.scheme);
    result.origins.push(origin);
    // Only a 2xx body is the resource: an error page is neither hashed nor fed to a verifier.
    const answer = await get(net, origin, `${url.pathname}${url.search}`, { ...options, readBody: (status) => status >= 200 && status < 300 });
    result.finalUrl = url;
    result.evidence.push(answer.evidence);
    result.final = answer;
    const location = answer.headers.location;
    if (answer.status === null || !REDIRECTS.has(answer.status) || typeof location !== 'string') return result;
    const hop: Hop = { status: answer.status, location, followed: false };
    result.hops.push(hop);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      // A Location that does not parse is the server's fault: it is recorded and not followed.
      hop.reason = 'the Location does not parse as a URL';
      return result;
    }
    hop.url = next.href;
    if (result.hops.length > options.maxRedirects) {
      hop.reason = `more than ${options.maxRedirects} redirects`;
      return result;
    }
    const to = await reach(net, next, options.timeoutMs);
    if (!to.ok) {
      hop.reason = to.reason;
      result.evidence.push({ kind: 'note', summary: `redirect ${answer.status} to ${next.href} not followed: ${to.reason}`, data: { addresses: to.addresses } });
      return result;
    }
    hop.followed = true;
    origin = to.origin;
    url = next;
  }
}

/** Whether the last answer was a 2xx whose body was read to its end. */
export function isComplete2xx(f: Fetched): boolean {
  const s = f.final?.status;
  return s !== undefined && s !== null && s >= 200 && s < 300 && f.final?.body?.end === 'complete';
}

/** The download facts of a fetch, as the `update.endpoint` observation gives them. */
export function downloadFacts(f: Fetched): Record<string, unknown> {
  const body = f.final?.body;
  return {
    redirects: f.hops.map((h) => ({ status: h.status, location: h.location, followed: h.followed, ...(h.reason === undefined ? {} : { reason: h.reason }) })),
    status: f.final?.status ?? null,
    ...(f.final?.error === undefined ? {} : { error: f.final.error }),
    bytes: body?.bytes ?? 0,
    truncated: body !== undefined && body.end !== 'complete',
    ...(body && body.end !== 'complete' ? { stoppedBecause: body.end } : {}),
    contentLength: body?.contentLength ?? null,
    sha256: body?.sha256 ?? null,
  };
}

/**
 * A small file (a detached signature) read whole, at most `maxBytes`: its bytes, or why there are none.
 * `missing` means the server has no such file to give (no answer, not 2xx, too large, cut short);
 * otherwise the URL was not contacted at all (out of scope).
 */
export async function fetchSmall(net: Egress, at: URL, options: FetchOptions & { maxBytes: number }, what: string): Promise<{ bytes: Buffer; evidence: EvidenceInput[] } | { missing: boolean; error: string; evidence: EvidenceInput[] }> {
  const chunks: Buffer[] = [];
  const got = await fetchFollowing(net, at, { ...options, onChunk: (c) => chunks.push(c) });
  const evidence = got.evidence;
  if (!got.contacted) return { missing: false, error: `the ${what} URL ${at.href} was not contacted: ${got.reason ?? ''}`, evidence };
  const f = got.final;
  if (f?.status === null || f?.status === undefined) return { missing: true, error: `no ${what} at ${at.href}: ${f?.error ?? 'no answer'}`, evidence };
  if (f.status < 200 || f.status >= 300) return { missing: true, error: `no ${what} at ${at.href}: ${`${f.status} ${f.statusText}`.trimEnd()}`, evidence };
  if (f.body?.end === 'size-cap') return { missing: true, error: `the ${what} at ${at.href} is larger than ${options.maxBytes} bytes`, evidence };
  if (f.body?.end !== 'complete') return { missing: true, error: `the ${what} at ${at.href} could not be read whole (${f.body?.end ?? 'no body'})`, evidence };
  return { bytes: Buffer.concat(chunks), evidence };
}
