import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { ListenOptions, RunningServer } from './listen.js';
import { debug } from './listen.js';
import { CONTENT, DTLS_1_0, DtlsAlert, encodeHandshake, encodeRecord, HANDSHAKE, isWhole, parseHandshakes, parseRecords, u16, type DtlsRecord } from './dtls-record.js';
import { DtlsSession, negotiate, parseClientHello, type PskEntry, type VerifiedHello } from './dtls-session.js';
import { listenUdp, type UdpServer } from './udp.js';

/**
 * A minimal DTLS 1.2 PSK server (RFC 6347, RFC 4279) for the lab's CoAPS: Node has a DTLS client in
 * no form and a server in none, and no maintained npm server exists. Suites TLS_PSK_WITH_AES_128_CCM_8
 * (CoAP's mandatory one) and TLS_PSK_WITH_AES_128_GCM_SHA256 (node-dtls-client's, and OpenSSL's).
 *
 * A ClientHello without a valid cookie gets a HelloVerifyRequest and leaves no state behind (RFC 6347
 * §4.2.1): a spoofed hello is answered with fewer bytes than it carried. Everything a client can make
 * the server hold is bounded: sessions at once, the time a handshake may take, the time an open
 * session may stay idle, the datagram size. Garbage is dropped.
 */

export interface DtlsServerOptions extends ListenOptions {
  /**
   * Keys accepted, by identity. The key is the bytes both sides hash: a declaration's `coap.psk.key`
   * string is used as its UTF-8 bytes, as the harness probe and libcoap's `-k` take it.
   */
  psks: readonly { identity: string; key: Buffer }[];
  /** PSK identity hint sent in a ServerKeyExchange (libcoap sends `CoAP`); none by default. */
  hint?: string;
  /** What the sessions carry: application data plaintext in, the reply plaintext out (a CoAP handler). */
  application: (plaintext: Buffer) => Buffer | undefined;
  /** Sessions (handshaking or open) held at once; a ClientHello beyond that gets no answer. Default 64. */
  maxSessions?: number;
  /** A handshake not finished by then is dropped. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** An open session with no authenticated record for this long is dropped. Default 60 s. */
  idleTimeoutMs?: number;
}

export interface DtlsServer extends RunningServer {
  /** Sessions held right now, handshaking or open. */
  readonly sessionCount: number;
}

/** Larger datagrams are dropped unread: nothing the lab serves needs more than one 1 KiB CoAP block. */
const MAX_DATAGRAM = 4096;
const COOKIE_BYTES = 16;

interface HelloRecord {
  record: DtlsRecord;
  verified: Omit<VerifiedHello, 'suite'>;
}

/** The ClientHello in an epoch-0 handshake record, if that is what it holds. */
function clientHelloIn(record: DtlsRecord, label: string): HelloRecord | undefined {
  if (record.epoch !== 0 || record.type !== CONTENT.handshake) return undefined;
  let fragments;
  try {
    fragments = parseHandshakes(record.fragment);
  } catch (error) {
    debug('dtls %s: undecodable handshake record dropped: %s', label, error instanceof Error ? error.message : String(error));
    return undefined;
  }
  const f = fragments.find((m) => m.type === HANDSHAKE.clientHello);
  if (!f) return undefined;
  // A stateless server cannot reassemble: a fragmented ClientHello (larger than any PSK client sends) is not answered.
  if (!isWhole(f)) {
    debug('dtls %s: fragmented ClientHello dropped', label);
    return undefined;
  }
  try {
    return { record, verified: { hello: parseClientHello(f.body), message: encodeHandshake(f.type, f.messageSeq, f.body), messageSeq: f.messageSeq, recordSeq: record.seq } };
  } catch (error) {
    debug('dtls %s: malformed ClientHello dropped: %s', label, error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

/** DTLS 1.2 PSK over UDP on the first usable candidate port, carrying `application`. */
export async function startDtlsServer(options: DtlsServerOptions): Promise<DtlsServer> {
  const maxSessions = options.maxSessions ?? 64;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const psks: PskEntry[] = options.psks.map((p) => ({ identity: Buffer.from(p.identity, 'utf8'), key: p.key }));
  const hint = options.hint === undefined ? undefined : Buffer.from(options.hint, 'utf8');
  const cookieSecret = randomBytes(32);
  const sessions = new Map<string, DtlsSession>();

  /** HMAC over the client's address and hello (RFC 6347 §4.2.1): verifiable later with no state kept now. */
  function cookieFor(remote: RemoteInfo, hello: VerifiedHello['hello']): Buffer {
    const mac = createHmac('sha256', cookieSecret).update(`${remote.address}:${remote.port}`);
    mac.update(u16(hello.version)).update(hello.random).update(hello.sessionId).update(Buffer.from(hello.suites.join(','))).update(hello.compressions);
    return mac.digest().subarray(0, COOKIE_BYTES);
  }

  function onClientHello(server: UdpServer, remote: RemoteInfo, { record, verified }: HelloRecord): void {
    const key = `${remote.address}:${remote.port}`;
    const reply = (datagram: Buffer): void => server.send(datagram, remote.port, remote.address);
    const { hello } = verified;
    const existing = sessions.get(key);
    // The same hello again: our ServerHello flight was lost.
    if (existing?.clientRandom.equals(hello.random)) {
      existing.resend();
      return;
    }
    const expected = cookieFor(remote, hello);
    if (hello.cookie.length !== expected.length || !timingSafeEqual(hello.cookie, expected)) {
      // The HelloVerifyRequest carries DTLS 1.0 whatever will be negotiated, and the hello's record number (RFC 6347 §4.2.1).
      const body = Buffer.concat([u16(DTLS_1_0), Buffer.from([expected.length]), expected]);
      reply(encodeRecord(CONTENT.handshake, DTLS_1_0, 0, record.seq, encodeHandshake(HANDSHAKE.helloVerifyRequest, verified.messageSeq, body)));
      return;
    }
    let suite;
    try {
      suite = negotiate(hello);
    } catch (error) {
      if (!(error instanceof DtlsAlert)) throw error;
      debug('dtls %s: %s', key, error.message);
      reply(encodeRecord(CONTENT.alert, DTLS_1_0, 0, record.seq, Buffer.from([2, error.description])));
      return;
    }
    if (!existing && sessions.size >= maxSessions) {
      debug('dtls %s: %d sessions held already; hello not answered', key, sessions.size);
      return;
    }
    // A new handshake from the same address and port replaces what was there.
    existing?.close();
    const session: DtlsSession = new DtlsSession(
      {
        psks,
        ...(hint ? { hint } : {}),
        application: options.application,
        send: reply,
        label: key,
        onClose: () => {
          if (sessions.get(key) === session) sessions.delete(key);
        },
      },
      { ...verified, suite },
    );
    sessions.set(key, session);
  }

  function onDatagram(datagram: Buffer, remote: RemoteInfo, server: UdpServer): void {
    const key = `${remote.address}:${remote.port}`;
    if (datagram.length > MAX_DATAGRAM) {
      debug('dtls %s: %d-byte datagram dropped', key, datagram.length);
      return;
    }
    const records = parseRecords(datagram);
    if (records.length === 0) debug('dtls %s: %d bytes that are not DTLS dropped', key, datagram.length);
    for (const record of records) {
      const hello = clientHelloIn(record, key);
      if (hello) onClientHello(server, remote, hello);
      // Without a session, anything but a hello is discarded (RFC 6347 §4.1.2.7).
      else sessions.get(key)?.receive(record);
    }
  }

  function sweep(): void {
    const now = Date.now();
    for (const [key, session] of sessions) {
      const isOpen = session.state === 'open';
      if (isOpen ? now - session.lastActivity > idleTimeoutMs : now - session.createdAt > handshakeTimeoutMs) {
        debug('dtls %s: %s, dropped', key, isOpen ? 'idle' : 'handshake not finished in time');
        session.close();
      }
    }
  }
  const sweeper = setInterval(sweep, Math.max(20, Math.min(1000, handshakeTimeoutMs / 4, idleTimeoutMs / 4)));
  sweeper.unref();

  const release = (): Promise<void> => {
    clearInterval(sweeper);
    for (const session of sessions.values()) session.close();
    return Promise.resolve();
  };
  const server = await listenUdp(options, onDatagram, release);
  return {
    host: server.host,
    port: server.port,
    get sessionCount() {
      return sessions.size;
    },
    close: () => server.close(),
  };
}
