import { createSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { HarnessError } from './errors.js';
import { Semaphore } from './io.js';
import type { PortSet, Transport } from './ports.js';
import type { Scope } from './scope.js';

/** Why a connection did not open. Each is a fact about the device, reported as data. */
export type ConnectFailure = 'refused' | 'timeout' | 'reset' | 'unreachable' | 'aborted' | 'error';

export type ConnectResult<S> =
  | { ok: true; socket: S; release: () => void; elapsedMs: number }
  | { ok: false; reason: ConnectFailure; code: string; message: string; elapsedMs: number };

export interface ConnectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface UdpExchangeOptions {
  timeoutMs: number;
  /** Stop after this many datagrams: a port that answers with a flood is cut off here. */
  maxDatagrams: number;
  /** Stop after this many bytes in all. */
  maxBytes: number;
  /** Resolve as soon as one datagram satisfies this (e.g. a CoAP response with our message id). */
  accept?: (datagram: Buffer) => boolean;
  signal?: AbortSignal;
}

export interface UdpExchange {
  datagrams: Buffer[];
  /** Datagrams that arrived after the cap and were dropped. */
  dropped: number;
  end: 'accepted' | 'cap' | 'timeout' | 'refused' | 'aborted' | 'error';
  errorCode?: string;
}

/** Thrown when code asks the egress for a port the user excluded: a harness bug, never a device fact. */
export class ExcludedPortError extends HarnessError {
  constructor(address: string, port: number, transport: Transport) {
    super('E_EXCLUDED_PORT', `refused to contact ${address} ${transport}/${port}: the port is excluded with --exclude-ports`);
  }
}

export interface EgressOptions {
  scope: Scope;
  /** Ports never contacted on any target. */
  excludePorts: PortSet;
  /** Concurrent connections per device, across every probe. Fragile devices fall over beyond a few dozen. */
  maxConnectionsPerDevice: number;
  /** Concurrent login attempts per device, across every credential probe. */
  maxLoginsPerDevice?: number;
}

function classify(err: NodeJS.ErrnoException): ConnectFailure {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

/**
 * The one module that opens sockets. Every connection is checked against the scope and the excluded
 * ports first, and counted against the device's connection cap. Nothing else in the harness, the
 * probes or the lab client code calls `net.connect`, `tls.connect` or `dgram` directly.
 */
export class Egress {
  readonly scope: Scope;
  readonly #excludedTcp: Set<number>;
  readonly #excludedUdp: Set<number>;
  readonly #perDevice = new Map<string, Semaphore>();
  readonly #loginSlots = new Map<string, Semaphore>();
  readonly #cap: number;
  readonly #loginCap: number;
  /** Connection and datagram attempts made, for tests and the run summary. */
  readonly stats = { tcpConnects: 0, udpExchanges: 0 };

  constructor(options: EgressOptions) {
    this.scope = options.scope;
    this.#excludedTcp = new Set(options.excludePorts.tcp);
    this.#excludedUdp = new Set(options.excludePorts.udp);
    this.#cap = options.maxConnectionsPerDevice;
    this.#loginCap = options.maxLoginsPerDevice ?? 2;
  }

  /**
   * A slot for one login attempt on the device, shared by every credential probe: a device sees at
   * most `maxLoginsPerDevice` password checks at once, whatever runs. Call the returned function when done.
   */
  acquireLoginSlot(address: string): Promise<() => void> {
    this.scope.assert(address);
    let s = this.#loginSlots.get(address);
    if (!s) {
      s = new Semaphore(this.#loginCap);
      this.#loginSlots.set(address, s);
    }
    return s.acquire();
  }

  /** Connections holding a slot on `address` right now (tests and debugging). */
  connectionsInUse(address: string): number {
    return this.#perDevice.get(address)?.inUse ?? 0;
  }

  /** Whether the port may be contacted at all. */
  isExcluded(port: number, transport: Transport): boolean {
    return (transport === 'tcp' ? this.#excludedTcp : this.#excludedUdp).has(port);
  }

  /** Throws before any packet when the address is out of scope or the port excluded. */
  authorize(address: string, port?: number, transport: Transport = 'tcp'): void {
    this.scope.assert(address);
    if (port !== undefined && this.isExcluded(port, transport)) throw new ExcludedPortError(address, port, transport);
  }

  #slots(address: string): Semaphore {
    let s = this.#perDevice.get(address);
    if (!s) {
      s = new Semaphore(this.#cap);
      this.#perDevice.set(address, s);
    }
    return s;
  }

  /** Open a TCP connection. Refusal, timeout and reset come back as `{ ok: false }`, not as throws. */
  async connectTcp(address: string, port: number, options: ConnectOptions): Promise<ConnectResult<Socket>> {
    this.authorize(address, port, 'tcp');
    if (isIP(address) === 0) throw new HarnessError('E_ADDRESS', `egress needs an IP address, got "${address}"`);
    const release = await this.#slots(address).acquire();
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    if (options.signal?.aborted) {
      release();
      return { ok: false, reason: 'aborted', code: 'ABORT_ERR', message: 'aborted before connecting', elapsedMs: 0 };
    }
    this.stats.tcpConnects++;
    return new Promise((resolve) => {
      const socket = new Socket();
      let settled = false;
      const settle = (result: ConnectResult<Socket>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', onError);
        options.signal?.removeEventListener('abort', onAbort);
        if (!result.ok) {
          socket.destroy();
          release();
        } else {
          // The slot is held until the socket closes, whoever closes it.
          socket.once('close', release);
          // Late errors (reset mid-read) surface through readBounded; this keeps them from crashing the process.
          socket.on('error', () => undefined);
        }
        resolve(result);
      };
      const onError = (err: NodeJS.ErrnoException): void =>
        settle({ ok: false, reason: classify(err), code: err.code ?? 'ERROR', message: err.message, elapsedMs: elapsed() });
      const onAbort = (): void => settle({ ok: false, reason: 'aborted', code: 'ABORT_ERR', message: 'aborted', elapsedMs: elapsed() });
      const timer = setTimeout(
        () => settle({ ok: false, reason: 'timeout', code: 'ETIMEDOUT', message: `no answer within ${options.timeoutMs} ms`, elapsedMs: elapsed() }),
        options.timeoutMs,
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.setNoDelay(true);
      socket.connect({ host: address, port }, () => settle({ ok: true, socket, release, elapsedMs: elapsed() }));
    });
  }

  /**
   * Open a TLS connection over a scoped TCP connection. `tls` options are passed to Node as given
   * (callers that must reach old devices set `minVersion` and `ciphers` themselves).
   */
  async connectTls(address: string, port: number, tls: ConnectionOptions, options: ConnectOptions): Promise<ConnectResult<TLSSocket>> {
    const tcp = await this.connectTcp(address, port, options);
    if (!tcp.ok) return tcp;
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const secure = tlsConnect({ ...tls, socket: tcp.socket, servername: tls.servername ?? (isIP(address) ? undefined : address) });
      const settle = (result: ConnectResult<TLSSocket>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('error', onError);
        if (!result.ok) {
          secure.destroy();
          tcp.socket.destroy();
        } else {
          secure.on('error', () => undefined);
        }
        resolve(result);
      };
      const elapsed = (): number => Math.round(performance.now() - started);
      const onError = (err: NodeJS.ErrnoException): void =>
        settle({ ok: false, reason: classify(err), code: err.code ?? 'ERROR', message: err.message, elapsedMs: elapsed() });
      const timer = setTimeout(
        () => settle({ ok: false, reason: 'timeout', code: 'ETIMEDOUT', message: `no TLS handshake within ${options.timeoutMs} ms`, elapsedMs: elapsed() }),
        options.timeoutMs,
      );
      secure.once('error', onError);
      secure.once('secureConnect', () => settle({ ok: true, socket: secure, release: tcp.release, elapsedMs: elapsed() }));
    });
  }

  /**
   * Send one datagram and collect the answers, bounded in count, bytes and time. ICMP port
   * unreachable (ECONNREFUSED on a connected UDP socket) comes back as `end: 'refused'`.
   */
  async udpExchange(address: string, port: number, payload: Buffer, options: UdpExchangeOptions): Promise<UdpExchange> {
    this.authorize(address, port, 'udp');
    const family = isIP(address);
    if (family === 0) throw new HarnessError('E_ADDRESS', `egress needs an IP address, got "${address}"`);
    const release = await this.#slots(address).acquire();
    this.stats.udpExchanges++;
    return new Promise((resolve) => {
      const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
      const datagrams: Buffer[] = [];
      let bytes = 0;
      let dropped = 0;
      let settled = false;
      const settle = (end: UdpExchange['end'], errorCode?: string): void => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        // Keep counting nothing after close: a flood cannot grow memory once we stop listening.
        socket.removeAllListeners('message');
        socket.on('error', () => undefined);
        socket.close(release);
        resolve(errorCode === undefined ? { datagrams, dropped, end } : { datagrams, dropped, end, errorCode });
      };
      const onAbort = (): void => settle('aborted');
      const timer = setTimeout(() => settle('timeout'), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('message', (msg) => {
        if (datagrams.length >= options.maxDatagrams || bytes + msg.length > options.maxBytes) {
          dropped++;
          settle('cap');
          return;
        }
        datagrams.push(msg);
        bytes += msg.length;
        if (options.accept?.(msg)) settle('accepted');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ECONNREFUSED' ? 'refused' : 'error', err.code));
      socket.connect(port, address, () => {
        socket.send(payload, (err) => {
          if (err) settle((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'refused' : 'error', (err as NodeJS.ErrnoException).code);
        });
      });
    });
  }
}
