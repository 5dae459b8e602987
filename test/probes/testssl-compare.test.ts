import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Egress } from '../../harness/egress.js';
import { Scope } from '../../harness/scope.js';
import { sweepVersions, versionSummary } from '../../probes/lib/tls-scan.js';
import { tmp } from '../cli/helpers.js';
import { requireBinary } from '../peers/daemon.js';
import { tlsServers } from '../fixtures/tls-servers.js';
import { allocHost } from '../peers/alias.js';

/**
 * Our version sweep against Debian's testssl.sh (`testssl --warnings off -p`) on the same servers:
 * the offered versions must agree exactly. testssl takes several seconds a port, so the fixtures are
 * scanned by it in parallel.
 */
const TESTSSL_IDS: Record<string, string> = { SSLv2: 'SSLv2', SSLv3: 'SSLv3', TLS1: 'TLSv1.0', TLS1_1: 'TLSv1.1', TLS1_2: 'TLSv1.2', TLS1_3: 'TLSv1.3' };

async function testsslOffered(host: string, port: number): Promise<string[]> {
  const json = join(tmp('testssl-'), 'out.json');
  await execa(requireBinary('testssl', 'testssl.sh'), ['--warnings', 'off', '-p', '--quiet', '--color', '0', '--jsonfile', json, `${host}:${port}`], { reject: false, timeout: 120_000 });
  const findings = JSON.parse(readFileSync(json, 'utf8')) as { id: string; finding: string }[];
  return findings.filter((f) => f.id in TESTSSL_IDS && /^offered/.test(f.finding)).map((f) => TESTSSL_IDS[f.id] as string);
}

const servers: { name: string; host: string; port: number; stop(): Promise<void> }[] = [];

beforeAll(async () => {
  for (const name of ['tls10Only', 'tls12And13', 'tls13Only', 'weakCiphers'] as const) {
    const host = await allocHost([]);
    const s = await tlsServers[name](host);
    servers.push({ name, host, port: s.port, stop: () => s.stop() });
  }
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('version sweep agrees with testssl.sh', () => {
  it('on TLS 1.0-only, 1.2+1.3, 1.3-only and weak-cipher servers', async () => {
    const theirs = await Promise.all(servers.map((s) => testsslOffered(s.host, s.port)));
    for (const [i, s] of servers.entries()) {
      const net = new Egress({ scope: new Scope(), excludePorts: { tcp: [2024], udp: [] }, maxConnectionsPerDevice: 16 });
      const ours = versionSummary(await sweepVersions(net, s.host, s.port, { timeoutMs: 3000, signal: new AbortController().signal })).offered;
      expect({ server: s.name, offered: ours }).toEqual({ server: s.name, offered: theirs[i] });
    }
    // The four servers between them cover 1.0, 1.2 and 1.3: agreement is not agreement on nothing.
    expect(new Set(theirs.flat())).toEqual(new Set(['TLSv1.0', 'TLSv1.2', 'TLSv1.3']));
  }, 240_000);
});
