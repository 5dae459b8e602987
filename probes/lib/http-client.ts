import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Client } from 'undici';
import type { EvidenceInput } from '../../harness/evidence.js';
import type { ProbeContext } from '../types.js';
import { describeChallenges, parseChallenges } from './http-auth.js';

/** What the HTTP exchange needs of a probe's context: the egress, the service, and the one-request deadline. */
export type HttpContext = ProbeContext<{ timeoutMs: number }>;

/** Body bytes read from any answer, then the connection is dropped: an endless body costs 64 KiB. */
export const BODY_CAP = 64 * 1024;
/** Response head kept as evidence (undici itself refuses heads over 16 KiB). */
const HEAD_CAP = 16 * 1024;

// Old devices speak TLS 1.0 with SHA-1 suites that OpenSSL 3 refuses below SECLEVEL=0; the certificate is the
// TLS probe's business, not this one's, so it is not checked here.
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
  const host = ctx.target.ip.includes(':') ? `[${ctx.target.ip}]` : ctx.target.ip;
  return `${isTls(ctx) ? 'https' : 'http'}://${host}:${ctx.service.port}`;
}

/** The bytes of a response head (status line and headers), as the device sent them. */
class HeadTap {
  #chunks: Buffer[] = [];
  #size = 0;
  #done = false;
  push = (chunk: Buffer): void => {
    if (this.#done) return;
    const room = HEAD_CAP - this.#size;
    this.#chunks.push(chunk.subarray(0, room));
    this.#size += Math.min(room, chunk.length);
    const end = this.bytes().indexOf('\r\n\r\n');
    if (end !== -1 || this.#size >= HEAD_CAP) this.#done = true;
  };
  bytes(): Buffer {
    const all = Buffer.concat(this.#chunks, this.#size);
    const end = all.indexOf('\r\n\r\n');
    return end === -1 ? all : all.subarray(0, end + 4);
  }
}

/**
 * One GET on a fresh connection from the egress, through undici. What undici writes is taken from its
 * `undici:client:sendHeaders` diagnostics channel and what the device answers from the socket itself, so
 * the evidence holds both sides' own bytes. The body is read up to BODY_CAP, then the connection is dropped.
 */
export async function httpGet(ctx: HttpContext, path: string, authorization: string | undefined, signal: AbortSignal): Promise<HttpExchange> {
  const { port } = ctx.service;
  const { timeoutMs } = ctx.options;
  const tap = new HeadTap();
  let socket: Socket | undefined;
  let sent = '';
  let connectFailure: string | undefined;
  const onSend = (message: unknown): void => {
    const m = message as { socket?: unknown; headers?: unknown };
    if (socket !== undefined && m.socket === socket && typeof m.headers === 'string') sent = m.headers;
  };
  const client = new Client(origin(ctx), {
    connect: (_options, callback) => {
      const opening = isTls(ctx) ? ctx.net.connectTls(ctx.target.ip, port, TLS_OPTIONS, { timeoutMs, signal }) : ctx.net.connectTcp(ctx.target.ip, port, { timeoutMs, signal });
      opening.then(
        (conn) => {
          if (!conn.ok) {
            connectFailure = `connection ${conn.reason} (${conn.code})`;
            callback(new Error(conn.message), null);
            return;
          }
          socket = conn.socket;
          callback(null, conn.socket);
          // Added after undici's own 'readable' listener: undici keeps control of the flow, and every chunk
          // it reads is also emitted here ('data' follows read() while a 'readable' listener exists).
          conn.socket.on('data', tap.push);
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
      );
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    pipelining: 1,
  });
  subscribe('undici:client:sendHeaders', onSend);
  const base = { kind: 'exchange', port, transport: 'tcp' } as const;
  const label = `GET ${path}${authorization ? ` with ${authorization.split(' ')[0]} credentials` : ''}`;
  try {
    let response;
    try {
      response = await client.request({
        path,
        method: 'GET',
        headers: { 'user-agent': 'iot-harness', accept: '*/*', connection: 'close', ...(authorization ? { authorization } : {}) },
        signal,
      });
    } catch (error) {
      const detail = connectFailure ?? describeError(error);
      return { evidence: { ...base, summary: `${label}: ${detail}`, ...(sent ? { sent } : {}), received: tap.bytes() }, detail, connectFailed: connectFailure !== undefined };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let bodyEnd = 'complete';
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        chunks.push(chunk.subarray(0, BODY_CAP - size));
        size += Math.min(chunk.length, BODY_CAP - size);
        if (size >= BODY_CAP) {
          // Leaving the loop destroys the body stream, and undici drops the connection with it.
          bodyEnd = `capped at ${BODY_CAP} bytes`;
          break;
        }
      }
    } catch (error) {
      // The head arrived: a body cut short (reset, stalled) still leaves an answer to judge.
      bodyEnd = `cut short: ${describeError(error)}`;
    }
    const answer: HttpAnswer = { status: response.statusCode, statusText: response.statusText, headers: response.headers, body: Buffer.concat(chunks, size) };
    const schemes = describeChallenges(parseChallenges(response.headers['www-authenticate']));
    return {
      answer,
      evidence: {
        ...base,
        summary: `${label} → ${answer.status} ${answer.statusText}${schemes.length ? ` (${schemes.join(', ')})` : ''}`,
        sent,
        received: tap.bytes(),
        data: { bodyBytes: size, body: bodyEnd },
      },
    };
  } finally {
    unsubscribe('undici:client:sendHeaders', onSend);
    await client.destroy();
  }
}

function describeError(error: unknown): string {
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
