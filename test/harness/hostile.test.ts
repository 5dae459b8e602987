import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from '../../harness/discovery/discover.js';
import { IDENTIFY_READ_CAP, type IdentifyTimings } from '../../harness/discovery/identify.js';
import { Egress } from '../../harness/egress.js';
import { Scope } from '../../harness/scope.js';
import { hostile, type HostilePeer } from '../fixtures/hostile.js';
import { allocHost } from '../peers/alias.js';

/**
 * Services that misbehave must not hang, crash or bloat a run, and must not be dropped: each is
 * reported, unidentified or with what could be learnt, and its anomaly named.
 */
const TIMINGS: IdentifyTimings = { connectMs: 1000, bannerMs: 300, probeMs: 400 };
/**
 * docs/discovery.md: a TCP port costs at most connect + banner wait + 5 client-first probes (each
 * connect + wait) + 2 TLS-inner attempts; a UDP port two exchanges. Ports are identified 8 at a time.
 */
const WORST_TCP_PORT_MS = TIMINGS.connectMs + TIMINGS.bannerMs + 7 * (TIMINGS.connectMs + TIMINGS.probeMs);

let host: string;
const peers: Record<string, HostilePeer> = {};

beforeAll(async () => {
  host = await allocHost([]);
  const [flood, silent, hugeBanner, endlessHttp, udpAmplifier, resetter] = await Promise.all([
    hostile.flood(host),
    hostile.silent(host),
    hostile.hugeBanner(host),
    hostile.endlessHttp(host),
    hostile.udpAmplifier(host),
    hostile.resetter(host),
  ]);
  Object.assign(peers, { flood, silent, hugeBanner, endlessHttp, udpAmplifier, resetter });
});

afterAll(async () => {
  await Promise.all(Object.values(peers).map((p) => p.stop()));
});

describe('hostile services', () => {
  it('are all reported, with their anomalies, within the time budget and with bounded memory', async () => {
    const net = new Egress({ scope: new Scope([`${host}/32`]), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 16 });
    const tcp = ['flood', 'silent', 'hugeBanner', 'endlessHttp', 'resetter'].map((k) => (peers[k] as HostilePeer).port);
    const udp = [(peers.udpAmplifier as HostilePeer).port];
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const d = await discover(net, host, { scanner: 'builtin', ports: { tcp, udp }, excludedTcp: [], scanConcurrency: 8, identifyConcurrency: 8, timings: TIMINGS, signal: new AbortController().signal });
    const elapsed = performance.now() - started;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    // A deadline, not a speed test: a hang would blow through it by minutes.
    expect(elapsed).toBeLessThan(2 * WORST_TCP_PORT_MS + 2 * TIMINGS.probeMs);
    // The flood and the megabyte line are cut at the read cap; nothing they send is kept beyond it.
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);

    const by = (name: string) => d.services.find((s) => s.port === peers[name]?.port);
    expect(d.services).toHaveLength(6);

    const flood = by('flood');
    expect(flood).toMatchObject({ protocol: 'unknown', transport: 'tcp' });
    expect(flood?.anomalies).toContain(`sent more than ${IDENTIFY_READ_CAP} bytes; read stopped at the cap`);
    expect(flood?.evidence[0]?.received?.length).toBe(IDENTIFY_READ_CAP);

    expect(by('silent')).toMatchObject({ protocol: 'unknown' });
    expect(by('silent')?.anomalies).toContain('accepted connections but never answered');

    const huge = by('hugeBanner');
    expect(huge).toMatchObject({ protocol: 'unknown' });
    expect(huge?.banner?.length).toBeLessThanOrEqual(200);
    expect(huge?.anomalies).toEqual(expect.arrayContaining(['sent an unrecognised banner unprompted']));

    // Headers arrive, so it is HTTP; the body that never ends is simply not read.
    expect(by('endlessHttp')).toMatchObject({ protocol: 'http', identifiedBy: 'http-response' });

    const reset = by('resetter');
    expect(reset).toMatchObject({ protocol: 'unknown' });
    expect(reset?.anomalies.join(' ')).toMatch(/reset|closed without answering|refused a second connection/);

    const amp = by('udpAmplifier');
    expect(amp).toMatchObject({ protocol: 'unknown', transport: 'udp' });
    expect(amp?.anomalies.join(' ')).toMatch(/answered one datagram with more than \d+ datagrams|not CoAP/);
  });
});
