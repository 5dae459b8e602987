import type { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { dtls } from 'node-dtls-client';
import type { Egress } from '../../harness/egress.js';
import type { CoapTransport, RawExchange } from './coap.js';
import { EXCHANGE_CAPS, matchesResponse } from './coap.js';

/**
 * DTLS-PSK handshakes with node-dtls-client, the one library in the harness that opens its own socket.
 * The egress cannot hand it one, so each attempt is authorised with `net.authorize` first (scope and
 * excluded ports), counted as a login on the device (`acquireLoginSlot`: a PSK is a credential), and
 * watched from the outside:
 * - every datagram the server sends is counted, capped and read (HelloVerifyRequest, ServerHello
 *   version and suite, the PSK identity hint, alerts): the library reports none of that, and a
 *   timeout after the server answered (a wrong key: libcoap drops the Finished silently) is a
 *   different fact from a timeout with no answer at all;
 * - the library's own message handler runs inside a try/catch: node-dtls-client 1.x threw from it on a
 *   server identity hint and killed the process; 2.0.3 does not, but garbage from a device must never
 *   reach the process as an uncaught exception.
 */

/** How a handshake ended. `rejected-without-answer`: the server answered our hellos, then went silent. */
export type HandshakeOutcome = 'accepted' | 'alert' | 'rejected-without-answer' | 'no-answer' | 'flood' | 'aborted' | 'error';

export interface PskHandshake {
  outcome: HandshakeOutcome;
  /** From the ServerHello: `DTLSv1.0`, `DTLSv1.2`, `DTLSv1.3`, or `0x....` for anything else. */
  version?: string;
  cipherSuite?: string;
  /** The PSK identity hint from the ServerKeyExchange (libcoap sends `CoAP` unless told otherwise). */
  identityHint?: string;
  /** Alert description, when the server sent a fatal alert. */
  alert?: string;
  /** The library's error message when the outcome is `error` (or the reason for `flood`). */
  error?: string;
  /** Server handshake messages and records in arrival order: `HelloVerifyRequest`, `ServerHello`, `alert`, `encrypted`... */
  serverMessages: string[];
  /** The first datagrams the server sent (plaintext handshake; at most RECEIVED_KEPT). */
  received: Buffer[];
  datagrams: number;
  bytes: number;
  elapsedMs: number;
  /** The open session, when accepted and asked for with `keepSession`; the caller closes it. */
  session?: DtlsSession;
}

export interface HandshakeOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Keep an accepted session open for requests; default: close it at once. */
  keepSession?: boolean;
  /** Datagrams and bytes the server may send during the handshake; more is a flood. */
  maxDatagrams?: number;
  maxBytes?: number;
}

const RECEIVED_KEPT = 4;
const VERSIONS: Record<number, string> = { 0xfeff: 'DTLSv1.0', 0xfefd: 'DTLSv1.2', 0xfefc: 'DTLSv1.3' };
const HANDSHAKE_TYPES: Record<number, string> = { 0: 'HelloRequest', 2: 'ServerHello', 3: 'HelloVerifyRequest', 11: 'Certificate', 12: 'ServerKeyExchange', 13: 'CertificateRequest', 14: 'ServerHelloDone', 20: 'Finished' };
/** The suites node-dtls-client offers, by id. */
const SUITES: Record<number, string> = {
  0x008b: 'TLS_PSK_WITH_3DES_EDE_CBC_SHA',
  0x008c: 'TLS_PSK_WITH_AES_128_CBC_SHA',
  0x008d: 'TLS_PSK_WITH_AES_256_CBC_SHA',
  0x00ae: 'TLS_PSK_WITH_AES_128_CBC_SHA256',
  0x00af: 'TLS_PSK_WITH_AES_256_CBC_SHA384',
  0x00a8: 'TLS_PSK_WITH_AES_128_GCM_SHA256',
  0x00a9: 'TLS_PSK_WITH_AES_256_GCM_SHA384',
  0xc0a4: 'TLS_PSK_WITH_AES_128_CCM',
  0xc0a5: 'TLS_PSK_WITH_AES_256_CCM',
  0xc0a8: 'TLS_PSK_WITH_AES_128_CCM_8',
  0xc0a9: 'TLS_PSK_WITH_AES_256_CCM_8',
};
const ALERTS: Record<number, string> = { 0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 40: 'handshake_failure', 47: 'illegal_parameter', 50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error', 115: 'unknown_psk_identity' };

export function dtlsVersionName(version: number): string {
  return VERSIONS[version] ?? `0x${version.toString(16).padStart(4, '0')}`;
}

/** Read what a server datagram says: each record's type, and the plaintext handshake fields we report. */
export function readServerDatagram(data: Buffer, into: Pick<PskHandshake, 'serverMessages' | 'version' | 'cipherSuite' | 'identityHint' | 'alert'>): void {
  let at = 0;
  while (at + 13 <= data.length) {
    const type = data[at] ?? 0;
    const epoch = data.readUInt16BE(at + 3);
    const length = data.readUInt16BE(at + 11);
    const body = data.subarray(at + 13, Math.min(data.length, at + 13 + length));
    at += 13 + length;
    if (epoch !== 0) {
      into.serverMessages.push('encrypted');
      continue;
    }
    if (type === 20) into.serverMessages.push('ChangeCipherSpec');
    else if (type === 21) {
      const description = body[1] ?? 0;
      into.serverMessages.push('alert');
      into.alert ??= ALERTS[description] ?? `alert ${description}`;
    } else if (type === 22 && body.length >= 12) {
      const msgType = body[0] ?? 0;
      into.serverMessages.push(HANDSHAKE_TYPES[msgType] ?? `handshake ${msgType}`);
      const fragmentOffset = body.readUIntBE(6, 3);
      const msg = body.subarray(12);
      if (fragmentOffset !== 0) continue;
      if (msgType === 2 && msg.length >= 35) {
        into.version = dtlsVersionName(msg.readUInt16BE(0));
        const sid = msg[34] ?? 0;
        if (msg.length >= 37 + sid) {
          const suite = msg.readUInt16BE(35 + sid);
          into.cipherSuite = SUITES[suite] ?? `0x${suite.toString(16).padStart(4, '0')}`;
        }
      } else if (msgType === 12 && msg.length >= 2) {
        const hintLength = msg.readUInt16BE(0);
        // The hint is the first field of every PSK ServerKeyExchange (plain, DHE and ECDHE PSK alike).
        if (msg.length >= 2 + hintLength) into.identityHint = msg.subarray(2, 2 + hintLength).toString('utf8');
      }
    } else into.serverMessages.push(`record ${type}`);
  }
}

/** An accepted DTLS session: a CoAP transport over it, and the way to end it. */
export interface DtlsSession {
  transport: CoapTransport;
  close(): Promise<void>;
}

type Listener = (...args: unknown[]) => void;

/** node-dtls-client's internal UDP socket: the only place its datagrams can be watched and guarded. */
function internalUdp(socket: dtls.Socket): EventEmitter | undefined {
  const udp: unknown = Reflect.get(socket, 'udp');
  return typeof udp === 'object' && udp !== null && typeof (udp as EventEmitter).listeners === 'function' ? (udp as EventEmitter) : undefined;
}

/**
 * One DTLS-PSK handshake with `identity`/`key`. Never throws on device behaviour: silence, alerts,
 * floods and library errors come back as the outcome. Throws only for an address out of scope or an
 * excluded port (a harness bug: discovery never hands those out).
 */
export async function pskHandshake(net: Egress, ip: string, port: number, psk: { identity: string; key: Buffer }, options: HandshakeOptions): Promise<PskHandshake> {
  net.authorize(ip, port, 'udp');
  const result: PskHandshake = { outcome: 'no-answer', serverMessages: [], received: [], datagrams: 0, bytes: 0, elapsedMs: 0 };
  if (options.signal.aborted) return { ...result, outcome: 'aborted' };
  const release = await net.acquireLoginSlot(ip);
  const started = performance.now();
  const maxDatagrams = options.maxDatagrams ?? 32;
  const maxBytes = options.maxBytes ?? 64 * 1024;

  let socket: dtls.Socket;
  try {
    socket = dtls.createSocket({ type: isIP(ip) === 6 ? 'udp6' : 'udp4', address: ip, port, psk: { [psk.identity]: psk.key }, timeout: options.timeoutMs });
  } catch (cause) {
    release();
    return { ...result, outcome: 'error', error: cause instanceof Error ? cause.message : String(cause) };
  }

  // The slot is held until the socket is gone, however it goes: the library's own close (close_notify,
  // then 'close') or our teardown (killConnection emits no 'close').
  let isClosed = false;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    markClosed = () => {
      if (isClosed) return;
      isClosed = true;
      release();
      resolve();
    };
  });
  socket.once('close', () => markClosed());
  // Whatever happens later (a late alert on a kept session), an 'error' with no listener would throw.
  socket.on('error', () => undefined);

  return new Promise<PskHandshake>((resolve) => {
    let settled = false;
    const kill = (): void => {
      try {
        // killConnection is the library's own teardown: it closes the UDP socket and stops its timers.
        (Reflect.get(socket, 'killConnection') as ((err?: Error) => void) | undefined)?.call(socket);
      } catch (cause) {
        result.error ??= `teardown: ${cause instanceof Error ? cause.message : String(cause)}`;
      }
      markClosed();
    };
    const settle = (outcome: HandshakeOutcome, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal.removeEventListener('abort', onAbort);
      result.outcome = outcome;
      if (error !== undefined) result.error = error;
      result.elapsedMs = Math.round(performance.now() - started);
      if (outcome === 'accepted' && options.keepSession) result.session = openSession(socket, closed, () => isClosed, options.signal, kill);
      else if (outcome === 'accepted') gracefulClose(socket, closed, kill);
      else kill();
      resolve(result);
    };
    const onAbort = (): void => settle('aborted');
    options.signal.addEventListener('abort', onAbort, { once: true });
    // The library times the handshake itself; this one catches a library that never reports back.
    const deadline = setTimeout(() => settle(result.datagrams > 0 ? 'rejected-without-answer' : 'no-answer', 'no result from node-dtls-client'), options.timeoutMs + 1000);

    const udp = internalUdp(socket);
    // Without its socket nothing can be counted or guarded: say so rather than report silence.
    if (!udp) result.error = 'node-dtls-client internals changed: its UDP socket cannot be watched, so server answers are not counted';
    if (udp) {
      const original = udp.listeners('message') as Listener[];
      udp.removeAllListeners('message');
      udp.on('message', (msg: Buffer, rinfo: unknown) => {
        if (settled && !result.session) return;
        if (!settled) {
          result.datagrams++;
          result.bytes += msg.length;
          if (result.datagrams > maxDatagrams || result.bytes > maxBytes) {
            settle('flood', `the server sent more than ${maxDatagrams} datagrams or ${maxBytes} bytes during the handshake`);
            return;
          }
          if (result.received.length < RECEIVED_KEPT) result.received.push(Buffer.from(msg));
          readServerDatagram(msg, result);
        }
        for (const listener of original) {
          try {
            listener.call(udp, msg, rinfo);
          } catch (cause) {
            const message = `node-dtls-client failed on a server datagram: ${cause instanceof Error ? cause.message : String(cause)}`;
            // During the handshake that is its outcome; on an open session the session ends (requests see 'closed').
            if (settled) kill();
            else settle('error', message);
            return;
          }
        }
      });
    }
    socket.once('connected', () => settle('accepted'));
    socket.on('error', (err: Error) => {
      if (/fatal alert/.test(err.message)) {
        result.alert ??= err.message.replace(/^.*fatal alert:\s*/, '');
        settle('alert', err.message);
      } else if (/timed out/.test(err.message)) {
        settle(result.datagrams > 0 ? 'rejected-without-answer' : 'no-answer');
      } else settle('error', err.message);
    });
  });
}

/** Send close_notify and wait for the socket to close; tear it down if that fails or hangs. */
function gracefulClose(socket: dtls.Socket, closed: Promise<void>, kill: () => void): void {
  try {
    socket.close();
  } catch {
    // Already closed under us (the server ended it, or the UDP socket failed): tear down what is left.
    kill();
  }
  const timer = setTimeout(kill, 1000);
  void closed.then(() => clearTimeout(timer));
}

function openSession(socket: dtls.Socket, closed: Promise<void>, isClosed: () => boolean, signal: AbortSignal, kill: () => void): DtlsSession {
  const transport: CoapTransport = {
    secure: true,
    send: (request, timeoutMs) =>
      new Promise<RawExchange>((resolve) => {
        const datagrams: Buffer[] = [];
        let bytes = 0;
        let done = false;
        const finish = (end: RawExchange['end'], errorCode?: string): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          socket.off('message', onMessage);
          signal.removeEventListener('abort', onAbort);
          resolve(errorCode === undefined ? { datagrams, end } : { datagrams, end, errorCode });
        };
        const onMessage = (msg: Buffer): void => {
          if (datagrams.length >= EXCHANGE_CAPS.maxDatagrams || bytes + msg.length > EXCHANGE_CAPS.maxBytes) {
            finish('cap');
            return;
          }
          datagrams.push(msg);
          bytes += msg.length;
          if (matchesResponse(request, msg)) finish('answered');
        };
        const onAbort = (): void => finish('aborted');
        const timer = setTimeout(() => finish('timeout'), timeoutMs);
        if (isClosed()) {
          finish('closed');
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        socket.on('message', onMessage);
        void closed.then(() => finish('closed'));
        try {
          socket.send(request.bytes, (err) => {
            if (err) finish('error', (err as NodeJS.ErrnoException).code ?? 'ERROR');
          });
        } catch (cause) {
          finish('error', cause instanceof Error ? cause.message : 'ERROR');
        }
      }),
  };
  return {
    transport,
    close: async () => {
      if (!isClosed()) gracefulClose(socket, closed, kill);
      await closed;
    },
  };
}
