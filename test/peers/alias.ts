// Loopback aliases for real peers: each test gets its own 127.X.Y.Z, so daemons can keep their usual
// ports (1883, 5683, ...) without two test files ever colliding, and nothing touches a real network.
// Linux routes all of 127.0.0.0/8 to lo, so any alias can be bound without configuration.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Which socket kinds a port must be free for. `both`: TCP and UDP (libcoap listens on both). */
export type Transport = 'tcp' | 'udp' | 'both';

/**
 * The sandbox's own control service listens on 0.0.0.0:2024: binding, connecting to or scanning it is
 * forbidden, so no helper ever hands that port out.
 */
const FORBIDDEN_PORTS = new Set([2024]);

const DEFAULT_ATTEMPTS = 8;

/** Throws unless `host` is an IPv4 loopback address (127.0.0.0/8): peers never touch a real network. */
export function assertLoopback(host: string): void {
  const parts = host.split('.');
  const isIpv4 = parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
  if (!isIpv4 || parts[0] !== '127') throw new RangeError(`${host} is not a 127.0.0.0/8 address: test peers stay on loopback`);
}

/** Throws for a port that is not a port number, or that belongs to the machine (2024). */
export function assertPortAllowed(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port ${port} is not a TCP/UDP port number`);
  }
  if (FORBIDDEN_PORTS.has(port)) {
    throw new RangeError(`port ${port} belongs to this machine and must never be bound, connected to or scanned`);
  }
}

/** A random 127.X.Y.Z with X in 100..250 and Y, Z in 1..254 (no .0/.255 parts). */
function randomAlias(): string {
  const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));
  return `127.${between(100, 250)}.${between(1, 254)}.${between(1, 254)}`;
}

/** Outcome of a brief bind: the bound port, or the errno code (EADDRINUSE, EACCES, ...). */
type BindResult = { isBound: true; port: number } | { isBound: false; code: string };

function bindFailure(error: NodeJS.ErrnoException): BindResult {
  return { isBound: false, code: error.code ?? 'UNKNOWN' };
}

function tryBindTcp(host: string, port: number): Promise<BindResult> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(bindFailure(error)));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve({ isBound: true, port: bound }));
    });
  });
}

function tryBindUdp(host: string, port: number): Promise<BindResult> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      resolve(bindFailure(error));
    });
    socket.bind({ address: host, port, exclusive: true }, () => {
      const bound = socket.address().port;
      socket.close(() => resolve({ isBound: true, port: bound }));
    });
  });
}

async function tryBind(host: string, port: number, transport: Transport): Promise<BindResult> {
  if (transport !== 'udp') {
    const tcp = await tryBindTcp(host, port);
    if (!tcp.isBound || transport === 'tcp') return tcp;
  }
  return tryBindUdp(host, port);
}

/**
 * Errors that no other alias would fix: fail at once with the remedy instead of retrying.
 * EACCES: a port below 1024 without root. EADDRNOTAVAIL: no 127/8 aliases here (macOS, Windows).
 */
function assertRetryable(result: BindResult, host: string, port: number): void {
  if (result.isBound) return;
  if (result.code === 'EACCES') {
    throw new Error(`binding ${host}:${port} needs privileges (EACCES): run as root, or use a port from freePort(host)`);
  }
  if (result.code === 'EADDRNOTAVAIL') {
    throw new Error(`${host} cannot be bound (EADDRNOTAVAIL): this system does not route all of 127.0.0.0/8 to loopback`);
  }
}

/** True when host:port can be bound right now for `transport`. */
export async function isBindable(host: string, port: number, transport: Transport): Promise<boolean> {
  return (await tryBind(host, port, transport)).isBound;
}

/**
 * Picks a random loopback alias on which every port in `ports` can be bound right now (for `transport`).
 * With no ports it still checks that the alias accepts a bind at all.
 * Throws if a port is forbidden (2024), needs privileges we lack, or no alias was free after a few tries.
 */
export async function allocHost(ports: number[], transport: Transport = 'tcp', attempts = DEFAULT_ATTEMPTS): Promise<string> {
  for (const port of ports) assertPortAllowed(port);
  const wanted = ports.length > 0 ? ports : [0];
  for (let i = 0; i < attempts; i += 1) {
    const host = randomAlias();
    let isFree = true;
    for (const port of wanted) {
      const result = await tryBind(host, port, transport);
      assertRetryable(result, host, port);
      if (!result.isBound) {
        isFree = false;
        break;
      }
    }
    if (isFree) return host;
  }
  throw new Error(`no loopback alias had ports ${ports.join(', ')} (${transport}) free after ${attempts} tries`);
}

/**
 * A port the kernel reports free on `host` (bind to port 0), checked for `transport`. With `span` > 1 the
 * ports port..port+span-1 are all free: libcoap with DTLS takes the port and the one above it.
 * Another process could take the port before the caller binds it; on a private alias that is unlikely.
 */
export async function freePort(host: string, transport: Transport = 'tcp', span = 1, attempts = DEFAULT_ATTEMPTS): Promise<number> {
  assertLoopback(host);
  for (let i = 0; i < attempts; i += 1) {
    const probe = transport === 'udp' ? await tryBindUdp(host, 0) : await tryBindTcp(host, 0);
    assertRetryable(probe, host, 0);
    if (!probe.isBound) throw new Error(`cannot bind any port on ${host} (${probe.code})`);
    const first = probe.port;
    if (FORBIDDEN_PORTS.has(first) || first + span - 1 > 65_535) continue;
    let isFree = true;
    for (let port = first; port < first + span; port += 1) {
      if (FORBIDDEN_PORTS.has(port) || !(await isBindable(host, port, transport))) {
        isFree = false;
        break;
      }
    }
    if (isFree) return first;
  }
  throw new Error(`no run of ${span} free ${transport} port(s) on ${host} after ${attempts} tries`);
}
