import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { LabError } from '../errors.js';
import { debug, FALL_THROUGH, listenPlan, RANDOM_PORT_TRIES, type ListenOptions, type RunningServer } from './listen.js';

/**
 * The UDP counterpart of `listen` (listen.ts): the same loopback-only rule, the same candidate ports
 * with EADDRINUSE/EACCES falling through, and RESERVED_PORTS plus `excludePorts` never bound.
 */

/** A bound UDP lab server. */
export interface UdpServer extends RunningServer {
  /** Sends one datagram. Never throws: a failed send is noted for `NODE_DEBUG=iot-lab` and dropped, as UDP would. */
  send(datagram: Buffer, port: number, address: string): void;
}

/**
 * Called for every datagram received. A throw is caught and noted: one client's garbage must never
 * end the lab.
 */
export type DatagramHandler = (datagram: Buffer, remote: RemoteInfo, server: UdpServer) => void;

type BindResult = { ok: true; port: number } | { ok: false; code: string; error: Error };

function bindOnce(socket: Socket, host: string, port: number): Promise<BindResult> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      socket.off('listening', onListening);
      resolve({ ok: false, code: error.code ?? 'UNKNOWN', error });
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve({ ok: true, port: socket.address().port });
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port, exclusive: true });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** A fresh socket per attempt: a dgram socket whose bind failed is not worth reusing. */
async function bindFirst(host: string, candidates: readonly number[], excluded: ReadonlySet<number>): Promise<{ socket: Socket; port: number }> {
  let lastError: Error | undefined;
  for (const candidate of candidates) {
    // Port 0 can land on an excluded port; give it back and draw again.
    for (let attempt = 0; attempt < (candidate === 0 ? RANDOM_PORT_TRIES : 1); attempt++) {
      const socket = createSocket('udp4');
      const result = await bindOnce(socket, host, candidate);
      if (!result.ok) {
        socket.close();
        if (!FALL_THROUGH.has(result.code)) {
          throw new LabError(`lab: cannot bind udp ${host}:${candidate} (${result.code})`, { cause: result.error });
        }
        lastError = result.error;
        break;
      }
      if (!excluded.has(result.port)) return { socket, port: result.port };
      await closeSocket(socket);
    }
  }
  throw new LabError(`lab: no usable udp port on ${host} among ${candidates.join(', ')}`, { cause: lastError });
}

/**
 * Binds a UDP socket on the first usable candidate port and hands every datagram to `onMessage`.
 * `release` runs when the server closes (and when binding fails), for what the caller set up around it.
 */
export async function listenUdp(options: ListenOptions, onMessage: DatagramHandler, release?: () => Promise<void>): Promise<UdpServer> {
  const { host, excluded, candidates } = listenPlan(options);

  let bound: { socket: Socket; port: number };
  try {
    bound = await bindFirst(host, candidates, excluded);
  } catch (error) {
    await release?.();
    throw error;
  }
  const { socket, port } = bound;

  let closing: Promise<void> | undefined;
  const server: UdpServer = {
    host,
    port,
    send(datagram, toPort, toAddress) {
      if (closing) return;
      socket.send(datagram, toPort, toAddress, (error) => {
        if (error) debug('udp %s:%d: send to %s:%d failed: %s', host, port, toAddress, toPort, (error as NodeJS.ErrnoException).code ?? error.message);
      });
    },
    close() {
      closing ??= (async () => {
        await closeSocket(socket);
        await release?.();
      })();
      return closing;
    },
  };
  // An unconnected UDP socket rarely errors after bind (ICMP errors are not reported on Linux), but an
  // 'error' with no listener would end the process.
  socket.on('error', (error: NodeJS.ErrnoException) => debug('udp %s:%d: %s', host, port, error.code ?? error.message));
  socket.on('message', (datagram, remote) => {
    try {
      onMessage(datagram, remote, server);
    } catch (error) {
      debug('udp %s:%d: datagram from %s:%d dropped: %s', host, port, remote.address, remote.port, error instanceof Error ? error.message : String(error));
    }
  });
  return server;
}
