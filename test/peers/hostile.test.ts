// Each hostile fixture misbehaves exactly as documented, and stop() really ends it (so a test file that
// uses one can exit). Every read here is bounded in bytes and time.
import { createSocket } from 'node:dgram';
import { get } from 'node:http';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HUGE_BANNER_BYTES,
  UDP_REPLIES_PER_DATAGRAM,
  startEndlessHttp,
  startFlood,
  startHugeBanner,
  startResetter,
  startSilent,
  startUdpAmplifier,
  type HostilePeer,
} from '../fixtures/hostile.js';
import { allocHost } from './alias.js';
import { tcpConnects } from './daemon.js';
import { tcpRead } from './read.js';

const MiB = 1024 * 1024;
const started = new Set<HostilePeer>();

async function track<T extends HostilePeer>(peer: Promise<T>): Promise<T> {
  const running = await peer;
  started.add(running);
  return running;
}

afterAll(async () => {
  for (const peer of started) await peer.stop();
});

/** Stops the fixture and checks that nothing listens any more. */
async function stopAndCheck(peer: HostilePeer): Promise<void> {
  await peer.stop();
  await peer.stop();
  expect(await tcpConnects(peer.host, peer.port, 500)).toBe(false);
}

describe('hostile fixtures', () => {
  it('(a) flood: sends random bytes until the reader gives up', async () => {
    const peer = await track(startFlood(await allocHost([])));
    const read = await tcpRead(peer.host, peer.port, { maxBytes: 4 * MiB, timeoutMs: 10_000 });
    expect(read.end).toBe('max-bytes');
    expect(read.data.length).toBe(4 * MiB);
    // Random, not a repeated byte: a probe must not mistake it for a banner.
    expect(new Set(read.data.subarray(0, 4096)).size).toBeGreaterThan(200);
    await stopAndCheck(peer);
  });

  it('(b) silent: accepts and never sends; stop() closes the held socket', async () => {
    const peer = await track(startSilent(await allocHost([])));
    const read = await tcpRead(peer.host, peer.port, { send: 'HELLO\r\n', timeoutMs: 300 });
    expect(read).toMatchObject({ end: 'timeout', bytesSeen: 0 });

    const held = connect({ host: peer.host, port: peer.port });
    await new Promise<void>((resolve, reject) => {
      held.once('connect', resolve);
      held.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    held.on('error', () => held.destroy());
    await peer.stop();
    await closed;
    expect(await tcpConnects(peer.host, peer.port, 500)).toBe(false);
  });

  it('(c) huge banner: 1 MiB without a newline, then an open, silent socket', async () => {
    const peer = await track(startHugeBanner(await allocHost([])));
    const head = await tcpRead(peer.host, peer.port, { until: (d) => d.includes('\n'), maxBytes: 64 * 1024 });
    expect(head.end).toBe('max-bytes');
    expect(head.data.subarray(0, 4).toString()).toBe('220 ');

    const all = await tcpRead(peer.host, peer.port, { maxBytes: 2 * MiB, timeoutMs: 1_000 });
    expect(all.end).toBe('timeout');
    expect(all.bytesSeen).toBe(HUGE_BANNER_BYTES);
    expect(all.data.includes('\n')).toBe(false);
    await stopAndCheck(peer);
  });

  it('(d) endless HTTP: 200 with a body that never ends', async () => {
    const peer = await track(startEndlessHttp(await allocHost([])));
    const result = await new Promise<{ status: number; bytes: number; hasEnded: boolean }>((resolve, reject) => {
      const request = get({ host: peer.host, port: peer.port, path: '/', agent: false }, (response) => {
        let bytes = 0;
        let hasEnded = false;
        response.on('end', () => {
          hasEnded = true;
        });
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= 8 * MiB) {
            request.destroy();
            resolve({ status: response.statusCode ?? 0, bytes, hasEnded });
          }
        });
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        // Destroying our own request after resolving raises ECONNRESET/abort here: already settled.
        if (request.destroyed) return;
        reject(error);
      });
      request.setTimeout(10_000, () => request.destroy(new Error('endless HTTP sent too little')));
    });
    expect(result.status).toBe(200);
    expect(result.bytes).toBeGreaterThanOrEqual(8 * MiB);
    expect(result.hasEnded).toBe(false);
    await stopAndCheck(peer);
  });

  it('(e) UDP amplifier: 100 datagrams of garbage for every datagram', async () => {
    const peer = await track(startUdpAmplifier(await allocHost([], 'udp')));
    const socket = createSocket('udp4');
    const replies = await new Promise<number>((resolve, reject) => {
      let count = 0;
      const timer = setTimeout(() => resolve(count), 2_000);
      socket.on('message', () => {
        count += 1;
        if (count === UDP_REPLIES_PER_DATAGRAM) {
          clearTimeout(timer);
          resolve(count);
        }
      });
      socket.once('error', reject);
      socket.send(Buffer.from('ping'), peer.port, peer.host);
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    expect(replies).toBe(UDP_REPLIES_PER_DATAGRAM);
    // Send callbacks may still be queued when the last datagram arrives.
    await expect.poll(() => peer.stats.sent).toBe(UDP_REPLIES_PER_DATAGRAM);
    expect(peer.stats).toMatchObject({ received: 1, sendErrors: 0 });
    await peer.stop();
    await peer.stop();
  });

  it('(f) resetter: accepts, then resets the connection', async () => {
    const peer = await track(startResetter(await allocHost([])));
    const read = await tcpRead(peer.host, peer.port, { send: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 2_000 });
    expect(read.end).toBe('reset');
    expect(read.bytesSeen).toBe(0);
    await stopAndCheck(peer);
  });

  it('refuses addresses off loopback and the machine port', async () => {
    await expect(startSilent('192.168.1.10')).rejects.toThrow(/loopback/);
    await expect(startSilent(await allocHost([]), 2024)).rejects.toThrow(/2024/);
  });
});
