import type { Server, Socket } from 'node:net';
import { debuglog } from 'node:util';
import { LabError } from '../errors.js';

/** `NODE_DEBUG=iot-lab` shows what the simulated devices saw go wrong with their clients. */
export const debug = debuglog('iot-lab');

/** Never bound, whatever a caller asks: this machine's own service lives there. */
export const RESERVED_PORTS: ReadonlySet<number> = new Set([2024]);

/** Where a lab server listens. */
export interface ListenOptions {
  /** A loopback address (127.0.0.0/8). */
  host: string;
  /**
   * The port, or candidates tried in order: a taken (EADDRINUSE) or privileged (EACCES) port falls
   * through to the next. 0 means any free port. Default: 0.
   */
  port?: number | readonly number[];
  /** Ports never to bind, on top of RESERVED_PORTS (the user's `--exclude-ports`). */
  excludePorts?: Iterable<number>;
}

/** A listening lab server. */
export interface RunningServer {
  host: string;
  /** The port actually bound. */
  port: number;
  /** Stops listening, drops every open connection and releases what the server holds. */
  close(): Promise<void>;
}

/** Bind errors that fall through to the next candidate port: taken, or privileged without root. */
const FALL_THROUGH: ReadonlySet<string> = new Set(['EADDRINUSE', 'EACCES']);
/** Draws of port 0 before giving up when the kernel keeps handing out excluded ports. */
const RANDOM_PORT_TRIES = 5;

/** True for a dotted IPv4 address in 127.0.0.0/8, the only addresses lab servers bind. */
function isLoopbackV4(host: string): boolean {
  return /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(host) && host.split('.').every((n) => Number(n) <= 255);
}

function listenOnce(server: Server, host: string, port: number): Promise<BindAttempt<Server>> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      resolve({ ok: false, code: error.code ?? 'UNKNOWN', error });
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address();
      resolve({ ok: true, handle: server, port: typeof address === 'object' && address !== null ? address.port : port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

function closeListener(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

/** One bind attempt: the handle bound and its port, or why it failed. */
export type BindAttempt<T> = { ok: true; handle: T; port: number } | { ok: false; code: string; error: Error };

/**
 * Binds on the first usable candidate port, TCP or UDP alike: a taken or privileged port falls
 * through to the next candidate, and a port 0 that lands on an excluded port is given back and drawn
 * again. `attempt` binds one port; `giveBack` frees a handle that landed on an excluded port.
 */
export async function bindFirst<T>(
  plan: ListenPlan,
  words: { verb: string; port: string },
  attempt: (port: number) => Promise<BindAttempt<T>>,
  giveBack: (handle: T) => Promise<void>,
): Promise<{ handle: T; port: number }> {
  const { host, excluded, candidates } = plan;
  let lastError: Error | undefined;
  for (const candidate of candidates) {
    for (let tries = 0; tries < (candidate === 0 ? RANDOM_PORT_TRIES : 1); tries++) {
      const result = await attempt(candidate);
      if (!result.ok) {
        if (!FALL_THROUGH.has(result.code)) {
          throw new LabError(`lab: cannot ${words.verb} ${host}:${candidate} (${result.code})`, { cause: result.error });
        }
        lastError = result.error;
        break;
      }
      if (!excluded.has(result.port)) return { handle: result.handle, port: result.port };
      await giveBack(result.handle);
    }
  }
  throw new LabError(`lab: no usable ${words.port} on ${host} among ${candidates.join(', ')}`, { cause: lastError });
}

/**
 * What a server may bind, TCP or UDP alike: the host checked to be IPv4 loopback, the ports never to
 * bind (2024 and the user's exclusions), and the candidate ports in order (0, any free port, last).
 */
export interface ListenPlan {
  host: string;
  excluded: ReadonlySet<number>;
  candidates: readonly number[];
}

export function listenPlan(options: ListenOptions): ListenPlan {
  const { host } = options;
  if (!isLoopbackV4(host)) {
    throw new LabError(`lab: ${host} is not an IPv4 loopback address; lab devices bind to 127.0.0.0/8 only`, { isInputError: true });
  }
  const excluded = new Set([...RESERVED_PORTS, ...(options.excludePorts ?? [])]);
  const wanted = options.port ?? 0;
  const candidates = (typeof wanted === 'number' ? [wanted] : [...wanted]).filter((p) => p === 0 || !excluded.has(p));
  if (candidates.length === 0) candidates.push(0);
  return { host, excluded, candidates };
}

/**
 * Listen on the first usable candidate port and track connections, so that `close()` can drop them:
 * `server.close()` alone waits for every client to leave, and a probe holding a telnet session
 * open would keep the process alive.
 */
export async function listen(server: Server, options: ListenOptions, release?: () => Promise<void>): Promise<RunningServer> {
  const plan = listenPlan(options);
  const { host } = plan;

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let port: number;
  try {
    ({ port } = await bindFirst(plan, { verb: 'listen on', port: 'port' }, (candidate) => listenOnce(server, host, candidate), closeListener));
  } catch (error) {
    // Whatever the caller set up around the listener (a broker, timers) must not outlive a failed bind.
    await release?.();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closing ??= (async () => {
        const stopped = closeListener(server);
        for (const socket of sockets) socket.destroy();
        await stopped;
        await release?.();
      })();
      return closing;
    },
  };
}

/**
 * A client that resets or sends garbage is ordinary traffic for a lab device: drop its socket and
 * note it for `NODE_DEBUG=iot-lab`, instead of letting an 'error' event crash the lab.
 */
export function dropOnError(socket: Socket, label: string): void {
  socket.on('error', (err: NodeJS.ErrnoException) => {
    debug('%s: client %s:%s: %s', label, socket.remoteAddress, socket.remotePort, err.code ?? err.message);
    socket.destroy();
  });
}
