import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Client, type Dispatcher } from 'undici';
import type { ConnectResult, Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import type { ProbeContext } from '../types.js';
import { describeChallenges, parseChallenges } from './http-auth.js';

/** What the HTTP exchange needs of a probe's context: the egress, the service, and the one-request deadline. */
export type HttpContext = ProbeContext<{ timeoutMs: number }>;

/** Body bytes read from any answer, then the connection is dropped: an endless body costs 64 KiB. */
export const BODY_CAP = 64 * 1024;
/** Response head kept as evidence (undici itself refuses heads over 16 KiB). */
const HEAD_CAP = 16 * 1024;

// Old devices speak TLS 1.0 with SHA-1 suites that OpenSSL 3 refuses below SECLEVEL=0 (and update servers may be
// as badly configured); the certificate is judged on its own (the TLS probe, fetchChain + analyseChain), so
// nothing is refused here.
const TLS_OPTIONS = { rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;

/** A response as the probe judges it. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** At most BODY_CAP bytes. */
  body: Buffer;
}

/**
 * One GET and its evidence: the answer, or why there was none (`connectFailed` when the connection itself
 * was refused or timed out, so another request to this service would fare no better).
 */
export type HttpExchange = { answer: HttpAnswer; evidence: EvidenceInput } | { answer?: undefined; evidence: EvidenceInput; detail: string; connectFailed: boolean };

/** Whether the service speaks HTTP over TLS. */
export function isTls(ctx: HttpContext): boolean {
  return ctx.service.tls || ctx.service.protocol === 'https';
}

function origin(ctx: HttpContext): string {
  return originText({ scheme: isTls(ctx) ? 'https' : 'http', hostname: ctx.target.ip, port: ctx.service.port });
}

/** Where one request goes: the in-scope address connected to, and the host its URL names. */
export interface EgressOrigin {
  scheme: 'http' | 'https';
  /** Host as written in the URL (brackets removed from an IPv6 literal); undici sends it as Host. */
  hostname: string;
  /** The in-scope address connected to. */
  ip: string;
  port: number;
  /** SNI: the host name, or undefined for an IP literal (SNI never carries an IP). */
  servername?: string;
}

/** `scheme://host:port` of an origin, an IPv6 host in brackets. */
export function originText(o: Pick<EgressOrigin, 'scheme' | 'hostname' | 'port'>): string {
  const host = o.hostname.includes(':') ? `[${o.hostname}]` : o.hostname;
  return `${o.scheme}://${host}:${o.port}`;
}

/** The bytes of a response head (status line and headers), as the device sent them. */
class HeadTap {
  #chunks: Buffer[] = [];
  #size = 0;
  done = false;
  push = (chunk: Buffer): void => {
    if (this.done) return;
    const room = HEAD_CAP - this.#size;
    this.#chunks.push(chunk.subarray(0, room));
    this.#size += Math.min(room, chunk.length);
    if (this.bytes().includes('\r\n\r\n') || this.#size >= HEAD_CAP) this.done = true;
  };
  bytes(): Buffer {
    const all = Buffer.concat(this.#chunks, this.#size);
    const end = all.indexOf('\r\n\r\n');
    return end === -1 ? all : all.subarray(0, end + 4);
  }
}

export interface EgressRequestOptions<T> {
  headers: Record<string, string>;
  /** Deadline for connecting, for the response head, and for any pause inside the body. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Consumes the response (its body) before the connection is dropped. */
  onResponse: (response: Dispatcher.ResponseData) => Promise<T> | T;
  /** Why no response came, said as soon as the request failed; `failure` when the connection did not open. */
  describeFailure: (error: unknown, failure: ConnectFailed | undefined) => string;
}

type ConnectFailed = Extract<ConnectResult<Socket>, { ok: false }>;

/**
 * A request's outcome with both sides' own bytes: `sent` the request head as undici wrote it (empty when
 * none was written), `received` the response head as the server sent it. Without a response, `detail` says
 * why, and `connectFailed` whether the connection itself did not open.
 */
export type EgressResponse<T> =
  | { ok: true; response: Dispatcher.ResponseData; value: T; sent: string; received: Buffer }
  | { ok: false; detail: string; connectFailed: boolean; sent: string; received: Buffer };

/**
 * One GET on a fresh connection from the egress, through undici. What undici writes is taken from its
 * `undici:client:sendHeaders` diagnostics channel and what the server answers from the socket itself, so
 * the evidence holds both sides' own bytes. `onResponse` reads what it wants of the body; then the client
 * is destroyed, which drops the connection.
 */
export async function egressRequest<T>(net: Egress, origin: EgressOrigin, path: string, options: EgressRequestOptions<T>): Promise<EgressResponse<T>> {
  const { timeoutMs, signal } = options;
  const tap = new HeadTap();
  let socket: Socket | undefined;
  let sent = '';
  let connectFailure: ConnectFailed | undefined;
  const onSend = (message: unknown): void => {
    const m = message as { socket?: unknown; headers?: unknown };
    if (socket !== undefined && m.socket === socket && typeof m.headers === 'string') sent = m.headers;
  };
  const client = new Client(originText(origin), {
    connect: (_options, callback) => {
      const opening =
        origin.scheme === 'https'
          ? net.connectTls(origin.ip, origin.port, { ...TLS_OPTIONS, ...(origin.servername === undefined ? {} : { servername: origin.servername }) }, { timeoutMs, signal })
          : net.connectTcp(origin.ip, origin.port, { timeoutMs, signal });
      opening.then(
        (conn) => {
          if (!conn.ok) {
            connectFailure = conn;
            callback(new Error(conn.message), null);
            return;
          }
          socket = conn.socket;
          callback(null, conn.socket);
          // Added after undici's own 'readable' listener: undici keeps control of the flow, and every chunk
          // it reads is also emitted here ('data' follows read() while a 'readable' listener exists).
          const onData = (chunk: Buffer): void => {
            tap.push(chunk);
            if (tap.done) conn.socket.off('data', onData);
          };
          conn.socket.on('data', onData);
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
      );
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    pipelining: 1,
  });
  subscribe('undici:client:sendHeaders', onSend);
  try {
    let response;
    try {
      response = await client.request({ path, method: 'GET', headers: options.headers, signal });
    } catch (error) {
      const detail = options.describeFailure(error, connectFailure);
      return { ok: false, detail, connectFailed: connectFailure !== undefined, sent, received: tap.bytes() };
    }
    const value = await options.onResponse(response);
    return { ok: true, response, value, sent, received: tap.bytes() };
  } finally {
    unsubscribe('undici:client:sendHeaders', onSend);
    await client.destroy();
  }
}

/**
 * One GET on a fresh connection from the egress, through undici, with the request and response heads as
 * evidence. The body is read up to BODY_CAP, then the connection is dropped.
 */
export async function httpGet(ctx: HttpContext, path: string, authorization: string | undefined, signal: AbortSignal): Promise<HttpExchange> {
  const { port } = ctx.service;
  const base = { kind: 'exchange', port, transport: 'tcp' } as const;
  const label = `GET ${path}${authorization ? ` with ${authorization.split(' ')[0]} credentials` : ''}`;
  const result = await egressRequest(ctx.net, { scheme: isTls(ctx) ? 'https' : 'http', hostname: ctx.target.ip, ip: ctx.target.ip, port }, path, {
    headers: { 'user-agent': 'iot-harness', accept: '*/*', connection: 'close', ...(authorization ? { authorization } : {}) },
    timeoutMs: ctx.options.timeoutMs,
    signal,
    onResponse: (response) => readCapped(response.body as AsyncIterable<Buffer>),
    describeFailure: (error, failure) => (failure ? `connection ${failure.reason} (${failure.code})` : describeError(error)),
  });
  const { sent, received } = result;
  if (!result.ok) {
    const { detail, connectFailed } = result;
    return { evidence: { ...base, summary: `${label}: ${detail}`, ...(sent ? { sent } : {}), received }, detail, connectFailed };
  }
  const { response, value } = result;
  const answer: HttpAnswer = { status: response.statusCode, statusText: response.statusText, headers: response.headers, body: value.body };
  const schemes = describeChallenges(parseChallenges(response.headers['www-authenticate']));
  return {
    answer,
    evidence: {
      ...base,
      summary: `${label} → ${answer.status} ${answer.statusText}${schemes.length ? ` (${schemes.join(', ')})` : ''}`,
      sent,
      received,
      data: { bodyBytes: value.body.length, body: value.end },
    },
  };
}

/** At most BODY_CAP bytes of a body, and how reading it ended. */
async function readCapped(body: AsyncIterable<Buffer>): Promise<{ body: Buffer; end: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let end = 'complete';
  try {
    for await (const chunk of body) {
      chunks.push(chunk.subarray(0, BODY_CAP - size));
      size += Math.min(chunk.length, BODY_CAP - size);
      if (size >= BODY_CAP) {
        // Leaving the loop destroys the body stream, and undici drops the connection with it.
        end = `capped at ${BODY_CAP} bytes`;
        break;
      }
    }
  } catch (error) {
    // The head arrived: a body cut short (reset, stalled) still leaves an answer to judge.
    end = `cut short: ${describeError(error)}`;
  }
  return { body: Buffer.concat(chunks, size), end };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${error.message}`;
  }
  return String(error);
}

/** The path and query of a same-origin redirect target, or undefined for one that leaves the target. */
export function sameOriginPath(ctx: HttpContext, location: string | string[] | undefined): string | undefined {
  if (typeof location !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(location, `${origin(ctx)}/`);
  } catch {
    // An unparseable Location is the device's problem: it is simply not followed.
    return undefined;
  }
  const here = new URL(origin(ctx));
  const hosts = new Set([here.hostname, ctx.target.address.toLowerCase()]);
  if (url.protocol !== here.protocol || url.port !== here.port || !hosts.has(url.hostname.toLowerCase())) return undefined;
  return `${url.pathname}${url.search}`;
}
