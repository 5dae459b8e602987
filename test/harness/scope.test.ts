import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Egress, ExcludedPortError } from '../../harness/egress.js';
import { ConfigError, ScopeError } from '../../harness/errors.js';
import { Scope, parseCidr } from '../../harness/scope.js';

// Documentation ranges (RFC 5737): never routed, and never contacted: every test here proves refusal.
const PUBLIC_V4 = '203.0.113.5';
const PUBLIC_V6 = '2001:db8::5';

describe('Scope', () => {
  const scope = new Scope();

  it('holds loopback, RFC 1918, link-local and ULA by default', () => {
    for (const inside of ['127.0.0.1', '127.200.3.4', '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.10', '169.254.3.3', '::1', 'fe80::1', 'fd12:3456::1', '::ffff:127.0.0.1']) {
      expect(scope.contains(inside), inside).toBe(true);
    }
  });

  it('refuses public addresses and says how to widen the scope', () => {
    for (const outside of [PUBLIC_V4, '172.32.0.1', PUBLIC_V6, '::ffff:203.0.113.5']) expect(scope.contains(outside), outside).toBe(false);
    expect(() => scope.assert(PUBLIC_V4)).toThrow(ScopeError);
    expect(() => scope.assert(PUBLIC_V4)).toThrow(/--scope 203\.0\.113\.5\/32/);
    expect(() => scope.assert(PUBLIC_V6)).toThrow(/--scope 2001:db8::5\/128/);
  });

  it('replaces the default with explicit blocks', () => {
    const lab = new Scope(['127.0.0.2/32', '203.0.113.0/24']);
    expect(lab.contains('127.0.0.2')).toBe(true);
    expect(lab.contains('127.0.0.1')).toBe(false);
    expect(lab.contains(PUBLIC_V4)).toBe(true);
    expect(lab.describe()).toBe('the scope 127.0.0.2/32, 203.0.113.0/24');
  });

  it('rejects malformed blocks with the flag and an example', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow(ConfigError);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/--scope: "10\.0\.0\.0\/33" has an invalid prefix length; use \/0 to \/32/);
    expect(() => parseCidr('lab-net')).toThrow(/not an IP address or CIDR block/);
  });
});

describe('Egress', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  function listen(): Promise<{ port: number; connections: () => number }> {
    let count = 0;
    server = createServer((s) => {
      count++;
      s.destroy();
    });
    return new Promise((resolve) => server?.listen(0, '127.0.0.1', () => resolve({ port: (server?.address() as { port: number }).port, connections: () => count })));
  }

  it('refuses an out-of-scope address before opening any socket', async () => {
    const { port, connections } = await listen();
    const net = new Egress({ scope: new Scope(['127.0.0.2/32']), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 4 });
    await expect(net.connectTcp('127.0.0.1', port, { timeoutMs: 500 })).rejects.toThrow(ScopeError);
    await expect(net.udpExchange('127.0.0.1', port, Buffer.from('x'), { timeoutMs: 100, maxDatagrams: 1, maxBytes: 10 })).rejects.toThrow(ScopeError);
    expect(net.stats).toEqual({ tcpConnects: 0, udpExchanges: 0 });
    expect(connections()).toBe(0);
  });

  it('refuses excluded ports on any in-scope address', async () => {
    const { port, connections } = await listen();
    const net = new Egress({ scope: new Scope(), excludePorts: { tcp: [port], udp: [] }, maxConnectionsPerDevice: 4 });
    await expect(net.connectTcp('127.0.0.1', port, { timeoutMs: 500 })).rejects.toThrow(ExcludedPortError);
    expect(connections()).toBe(0);
  });

  it('reports refusal as data, not as an exception', async () => {
    const { port } = await listen();
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    const net = new Egress({ scope: new Scope(), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 4 });
    const result = await net.connectTcp('127.0.0.1', port, { timeoutMs: 500 });
    expect(result).toMatchObject({ ok: false, reason: 'refused', code: 'ECONNREFUSED' });
  });

  it('holds at most the per-device cap of connections open at once', async () => {
    const open: unknown[] = [];
    let peak = 0;
    server = createServer((s) => {
      open.push(s);
      peak = Math.max(peak, open.length);
      s.on('close', () => open.splice(open.indexOf(s), 1));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const net = new Egress({ scope: new Scope(), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 3 });
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        const c = await net.connectTcp('127.0.0.1', port, { timeoutMs: 2000 });
        if (!c.ok) throw new Error(c.message);
        await new Promise((r) => setTimeout(r, 20));
        c.socket.destroy();
      }),
    );
    expect(net.stats.tcpConnects).toBe(12);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(0);
  });
});
