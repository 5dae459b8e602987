import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type BindAttempt, bindFirst, debug, listenPlan, type ListenOptions, type RunningServer } from './listen.js';

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

/** A fresh socket per attempt: a dgram socket whose bind failed is not worth reusing. */
function bindOnce(host: string, port: number): Promise<BindAttempt<Socket>> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      socket.off('listening', onListening);
      socket.close();
      resolve({ ok: false, code: error.code ?? 'UNKNOWN', error });
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve({ ok: true, handle: socket, port: socket.address().port });
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port, exclusive: true });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/**
 * Binds a UDP socket on the first usable candidate port and hands every datagram to `onMessage`.
 * `release` runs when the server closes (and when binding fails), for what the caller set up around it.
 */
export async function listenUdp(options: ListenOptions, onMessage: DatagramHandler, release?: () => Promise<void>): Promise<UdpServer> {
  const plan = listenPlan(options);
  const { host } = plan;

  let bound: { handle: Socket; port: number };
  try {
    bound = await bindFirst(plan, { verb: 'bind udp', port: 'udp port' }, (candidate) => bindOnce(host, candidate), closeSocket);
  } catch (error) {
    await release?.();
    throw error;
  }
  const { handle: socket, port } = bound;

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
