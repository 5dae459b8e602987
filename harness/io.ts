import type { Socket } from 'node:net';

/** Why a bounded read stopped. Every one of these is data about the device, never an exception. */
export type ReadEnd = 'matched' | 'cap' | 'timeout' | 'closed' | 'reset' | 'aborted';

export interface BoundedRead {
  data: Buffer;
  end: ReadEnd;
  /** Bytes the device sent beyond `maxBytes` during the read and that were dropped unread. */
  dropped: number;
  /** The socket error code when the device reset or broke the connection. */
  errorCode?: string;
}

export interface ReadOptions {
  /** Hard cap on bytes kept. A device that floods is cut off here. */
  maxBytes: number;
  /** Deadline for the whole read. */
  timeoutMs: number;
  /** Resolve as soon as the bytes so far satisfy this (e.g. a full line, a full record). */
  until?: (data: Buffer) => boolean;
  signal?: AbortSignal;
}

/**
 * Read from a socket with a byte cap and a deadline. A device that never answers, floods, or
 * sends one endless line ends the read at `timeoutMs` or `maxBytes`; memory stays bounded.
 * Leaves the socket paused so a later read starts where this one stopped.
 */
export function readBounded(socket: Socket, options: ReadOptions): Promise<BoundedRead> {
  const { maxBytes, timeoutMs, until, signal } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let dropped = 0;
    let settled = false;
    const finish = (end: ReadEnd, errorCode?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (!socket.destroyed) socket.pause();
      const data = Buffer.concat(chunks, size);
      resolve(errorCode === undefined ? { data, end, dropped } : { data, end, dropped, errorCode });
    };
    const onData = (chunk: Buffer): void => {
      const room = maxBytes - size;
      if (chunk.length > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        size += Math.max(room, 0);
        dropped += chunk.length - Math.max(room, 0);
        finish('cap');
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
      if (until?.(Buffer.concat(chunks, size))) finish('matched');
      else if (size >= maxBytes) finish('cap');
    };
    const onEnd = (): void => finish('closed');
    const onClose = (): void => finish('closed');
    const onError = (err: NodeJS.ErrnoException): void => finish('reset', err.code ?? 'ERROR');
    const onAbort = (): void => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    if (signal?.aborted) {
      finish('aborted');
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.once('error', onError);
    if (socket.destroyed) finish('closed');
    else socket.resume();
  });
}

/** Write and wait until the bytes are handed to the kernel; a reset during the write is data. */
export function writeSafely(socket: Socket, data: Buffer | string): Promise<{ ok: boolean; errorCode?: string }> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) {
      resolve({ ok: false, errorCode: 'EPIPE' });
      return;
    }
    socket.write(data, (err) => {
      if (err) resolve({ ok: false, errorCode: (err as NodeJS.ErrnoException).code ?? 'ERROR' });
      else resolve({ ok: true });
    });
  });
}

/** Run `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** A counting semaphore: the per-device connection cap. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(readonly capacity: number) {
    this.#free = capacity;
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const waiter = this.#waiters.shift();
      if (waiter) waiter();
      else this.#free++;
    };
  }
  get inUse(): number {
    return this.capacity - this.#free;
  }
}
