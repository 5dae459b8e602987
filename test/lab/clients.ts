// Plain node clients for the lab tests: every wait is on an event, with a deadline that fails the test.
import { request } from 'node:http';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

const DEADLINE_MS = 5_000;

/** A TCP conversation: everything received accumulates in `text`, and `waitFor` resolves on a match. */
export class Conversation {
  text = '';
  raw = Buffer.alloc(0);
  readonly #closed: Promise<void>;
  readonly #waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      this.text += chunk.toString('latin1');
      for (const wake of this.#waiters) wake();
    });
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.#closed.then(() => {
      for (const wake of this.#waiters) wake();
    });
  }

  static open(host: string, port: number): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        // Resets after the test is done with the socket are not failures.
        socket.on('error', (err) => socket.destroy(err));
        resolve(new Conversation(socket));
      });
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves with the text so far once it matches `pattern` after `from`; rejects at the deadline or on close. */
  waitFor(pattern: RegExp | string, from = 0): Promise<string> {
    const matches = (): boolean => {
      const tail = this.text.slice(from);
      return typeof pattern === 'string' ? tail.includes(pattern) : pattern.test(tail);
    };
    if (matches()) return Promise.resolve(this.text);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (matches()) finish(() => resolve(this.text));
        else if (this.socket.destroyed) finish(() => reject(new Error(`closed before ${String(pattern)}; got ${JSON.stringify(this.text)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${String(pattern)} within ${DEADLINE_MS} ms; got ${JSON.stringify(this.text)}`))), DEADLINE_MS);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
    });
  }

  /** Resolves when the peer has closed the connection; rejects at the deadline. */
  waitForClose(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still open after ${DEADLINE_MS} ms; got ${JSON.stringify(this.text)}`)), DEADLINE_MS);
      void this.#closed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export type TlsOutcome = { ok: true; protocol: string | null; authorized: boolean } | { ok: false; error: string };

/** One TLS handshake; reports the negotiated version or why it failed. */
export function tlsHandshake(options: ConnectionOptions): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      resolve({ ok: true, protocol: socket.getProtocol(), authorized: socket.authorized });
      socket.destroy();
    });
    socket.once('error', (err: Error) => resolve({ ok: false, error: err.message }));
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpGet(host: string, port: number, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function mqttString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An MQTT 3.1.1 CONNECT packet (clean session, keepalive 30 s), built byte by byte as the spec lays it out. */
export function mqttConnectPacket(clientId: string, credentials?: { username: string; password: string }): Buffer {
  const flags = 0x02 | (credentials ? 0xc0 : 0);
  const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([0x04, flags, 0x00, 0x1e])]);
  const payload = Buffer.concat([mqttString(clientId), ...(credentials ? [mqttString(credentials.username), mqttString(credentials.password)] : [])]);
  const remaining = variable.length + payload.length;
  if (remaining > 127) throw new Error('test CONNECT too long for a one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, remaining]), variable, payload]);
}

/** Sends CONNECT and returns the CONNACK return code, or why no CONNACK came. */
export function mqttConnack(socket: Socket, packet: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => done(`no CONNACK within ${DEADLINE_MS} ms`), DEADLINE_MS);
    const done = (result: number | string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // CONNACK: 0x20, remaining length 2, session-present flags, return code.
      if (received.length >= 4) done(received[0] === 0x20 ? (received[3] ?? -1) : `not a CONNACK: ${received.toString('hex')}`);
    });
    socket.once('close', () => done(`closed without CONNACK after ${received.toString('hex') || 'nothing'}`));
    socket.once('error', (err) => done(err.message));
    socket.write(packet);
  });
}

/** Whether `host:port` can be bound right now (the port is free). */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}
