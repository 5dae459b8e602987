/**
 * TLS version sweep benchmark (on demand: `npm run bench`). Per port, in the same run: our six-version
 * sweep (SSLv2 to TLS 1.3, hand-built hellos) against `testssl --warnings off -p` (Debian's testssl.sh),
 * on loopback TLS servers. DESIGN's target: under 100 ms a port (testssl: 7-10 s).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { createServer, type SecureVersion } from 'node:tls';
import { execa } from 'execa';
import { Egress } from '../harness/egress.js';
import { Scope } from '../harness/scope.js';
import { createSelfSigned } from '../lab/certs.js';
import { sweepVersions, versionSummary } from '../probes/lib/tls-scan.js';

const HOST = '127.0.0.97';
const CONFIGS: { name: string; min: SecureVersion; max: SecureVersion; ciphers?: string }[] = [
  { name: 'TLS 1.0 only', min: 'TLSv1', max: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
  { name: 'TLS 1.2 + 1.3', min: 'TLSv1.2', max: 'TLSv1.3' },
  { name: 'TLS 1.3 only', min: 'TLSv1.3', max: 'TLSv1.3' },
];
const ROUNDS = 20;

async function main(): Promise<void> {
  const cert = await createSelfSigned({ ipAddresses: [HOST] });
  const net = new Egress({ scope: new Scope(), excludePorts: { tcp: [2024], udp: [2024] }, maxConnectionsPerDevice: 16 });
  let oursTotal = 0;
  let theirsTotal = 0;
  for (const c of CONFIGS) {
    const server = createServer({ key: cert.key, cert: cert.cert, minVersion: c.min, maxVersion: c.max, ...(c.ciphers ? { ciphers: c.ciphers } : {}) }, (s) => s.end());
    // server.close() waits for every connection; testssl leaves some mid-handshake, so close them ourselves.
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    const port = (server.address() as { port: number }).port;
    try {
      const times: number[] = [];
      let offered: string[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now();
        offered = versionSummary(await sweepVersions(net, HOST, port, { timeoutMs: 3000, signal: new AbortController().signal })).offered;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const ours = times[Math.floor(times.length / 2)] as number;
      const json = join(mkdtempSync(join(tmpdir(), 'bench-testssl-')), 'out.json');
      const t = performance.now();
      await execa('testssl', ['--warnings', 'off', '-p', '--quiet', '--color', '0', '--jsonfile', json, `${HOST}:${port}`], { reject: false });
      const theirs = performance.now() - t;
      const theirOffered = (JSON.parse(readFileSync(json, 'utf8')) as { id: string; finding: string }[]).filter((f) => /^(SSLv|TLS)/.test(f.id) && /^offered/.test(f.finding)).map((f) => f.id);
      oursTotal += ours;
      theirsTotal += theirs;
      console.log(`${c.name.padEnd(14)} ours ${ours.toFixed(1).padStart(6)} ms (median of ${ROUNDS}) [${offered.join(' ')}]   testssl -p ${(theirs / 1000).toFixed(1)} s [${theirOffered.join(' ')}]   ratio ${(theirs / ours).toFixed(0)}x`);
    } finally {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    }
  }
  console.log(`all ports: ours ${oursTotal.toFixed(1)} ms, testssl ${(theirsTotal / 1000).toFixed(1)} s, ratio ${(theirsTotal / oursTotal).toFixed(0)}x`);
}

await main();
