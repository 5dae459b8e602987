// Bounded socket reads for tests: every read has a byte cap and a deadline, so a misbehaving peer makes a
// test fail with what it saw instead of hanging it or filling the heap.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** Why a bounded read ended. `reset`: ECONNRESET; `error`: any other socket error. */
export type ReadEnd = 'matched' | 'max-bytes' | 'timeout' | 'closed' | 'reset' | 'error';

export interface BoundedRead {
  /** Bytes received, at most `maxBytes`. */
  data: Buffer;
  end: ReadEnd;
  error?: Error;
  /** Total bytes seen, counting those dropped past `maxBytes`. */
  bytesSeen: number;
}

export interface ReadOptions {
  /** Bytes written right after connecting. */
  send?: string | Buffer;
  /** Stops as soon as this returns true for the data so far. */
  until?: (data: Buffer) => boolean;
  maxBytes?: number;
  timeoutMs?: number;
}

/** Reads from an already connected socket within the bounds, then destroys it. */
export function readBounded(socket: Socket, options: ReadOptions = {}): Promise<BoundedRead> {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let bytesSeen = 0;
    let isDone = false;
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(end: ReadEnd, error?: Error): void {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks, kept), end, error, bytesSeen });
    }
    socket.on('data', (chunk: Buffer) => {
      bytesSeen += chunk.length;
      const room = maxBytes - kept;
      chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.length);
      if (options.until?.(Buffer.concat(chunks, kept))) finish('matched');
      else if (kept >= maxBytes) finish('max-bytes');
    });
    socket.once('end', () => finish('closed'));
    socket.once('close', () => finish('closed'));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNRESET' ? 'reset' : 'error', error));
    if (options.send !== undefined) socket.write(options.send);
  });
}

/** Connects over TCP and reads within the bounds. */
export function tcpRead(host: string, port: number, options: ReadOptions = {}): Promise<BoundedRead> {
  const socket = connect({ host, port });
  if (options.send === undefined) return readBounded(socket, options);
  const { send, ...rest } = options;
  socket.once('connect', () => socket.write(send));
  return readBounded(socket, rest);
}

/** Connects over TLS (unverified unless `tls` says otherwise) and reads within the bounds. */
export function tlsRead(host: string, port: number, tls: ConnectionOptions, options: ReadOptions = {}): Promise<BoundedRead> {
  const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...tls });
  const { send, ...rest } = options;
  if (send !== undefined) socket.once('secureConnect', () => socket.write(send));
  return readBounded(socket, rest);
}

/** One scripted exchange: wait for `expect` in the output, then write `send`. */
export interface Step {
  expect: string;
  send?: string;
}

/**
 * Plays `steps` over one TCP connection (a login dialogue), each wait bounded. Resolves with the whole
 * transcript; `completed` counts the steps whose `expect` was seen.
 */
export function converse(
  host: string,
  port: number,
  steps: Step[],
  options: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<{ transcript: string; completed: number; end: ReadEnd }> {
  const socket = connect({ host, port });
  let completed = 0;
  let from = 0;
  const until = (data: Buffer): boolean => {
    const text = data.toString('latin1');
    for (;;) {
      const step = steps[completed];
      if (step === undefined) return true;
      const at = text.indexOf(step.expect, from);
      if (at === -1) return false;
      from = at + step.expect.length;
      completed += 1;
      if (step.send !== undefined) socket.write(step.send);
    }
  };
  return readBounded(socket, { until, timeoutMs: options.timeoutMs, maxBytes: options.maxBytes }).then((read) => ({
    transcript: read.data.toString('latin1'),
    completed,
    end: read.end,
  }));
}
