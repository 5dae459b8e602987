import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Discovery, discover } from '../../harness/discovery/discover.js';
import type { ScannerChoice } from '../../harness/discovery/scanners.js';
import { Egress } from '../../harness/egress.js';
import { Scope } from '../../harness/scope.js';
import { allocHost } from '../peers/alias.js';
import { startCoapServer } from '../peers/coap.js';
import type { Daemon } from '../peers/daemon.js';
import { startDropbear } from '../peers/dropbear.js';
import { startLighttpd } from '../peers/lighttpd.js';
import { startMosquitto } from '../peers/mosquitto.js';
import { startRedis } from '../peers/redis.js';
import { startTelnetd } from '../peers/telnetd.js';

/**
 * Real servers on one loopback alias, most on ports that suggest another protocol: identification
 * must go by what each service says. (MQTT on 1884 and on 8080, HTTPS on 1883.)
 */
const PORTS = {
  ssh: 2223,
  telnet: 10023,
  http: 10080,
  httpsOn8443: 8443,
  httpsOnMqttPort: 1883,
  mqtt: 1884,
  mqttOnHttpPort: 8080,
  mqtts: 18884,
  redis: 16379,
  coap: 15683,
  coapPsk: 25683, // DTLS on 25684
} as const;

const EXPECTED: Record<number, { protocol: string; tls: boolean; identifiedBy: string }> = {
  [PORTS.ssh]: { protocol: 'ssh', tls: false, identifiedBy: 'ssh-banner' },
  [PORTS.telnet]: { protocol: 'telnet', tls: false, identifiedBy: 'telnet-negotiation' },
  [PORTS.http]: { protocol: 'http', tls: false, identifiedBy: 'http-response' },
  [PORTS.httpsOn8443]: { protocol: 'https', tls: true, identifiedBy: 'https-response' },
  [PORTS.httpsOnMqttPort]: { protocol: 'https', tls: true, identifiedBy: 'https-response' },
  [PORTS.mqtt]: { protocol: 'mqtt', tls: false, identifiedBy: 'mqtt-connack' },
  [PORTS.mqttOnHttpPort]: { protocol: 'mqtt', tls: false, identifiedBy: 'mqtt-connack' },
  [PORTS.mqtts]: { protocol: 'mqtts', tls: true, identifiedBy: 'mqtt-connack-over-tls' },
  [PORTS.redis]: { protocol: 'redis', tls: false, identifiedBy: 'redis-reply' },
};

const TCP_PORTS = Object.keys(EXPECTED).map(Number);
const UDP_PORTS = [PORTS.coap, PORTS.coapPsk, PORTS.coapPsk + 1];

let host: string;
const peers: Daemon[] = [];

beforeAll(async () => {
  host = await allocHost([...TCP_PORTS, ...UDP_PORTS, PORTS.coap, PORTS.coapPsk, PORTS.coapPsk + 1], 'both');
  peers.push(
    ...(await Promise.all([
      startDropbear({ host, port: PORTS.ssh }),
      startTelnetd({ host, port: PORTS.telnet, users: [{ username: 'root', password: 'xc3511' }] }),
      startLighttpd({ host, port: PORTS.http }),
      startLighttpd({ host, port: PORTS.httpsOn8443, tls: true }),
      startLighttpd({ host, port: PORTS.httpsOnMqttPort, tls: true }),
      startMosquitto({ host, listeners: [{ port: PORTS.mqtt }, { port: PORTS.mqttOnHttpPort }, { port: PORTS.mqtts, tls: true }] }),
      startRedis({ host, port: PORTS.redis }),
      startCoapServer({ host, port: PORTS.coap }),
      startCoapServer({ host, port: PORTS.coapPsk, psk: { key: 'lab-secret', hint: 'CoAP' } }),
    ])),
  );
});

afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop()));
});

function run(scanner: ScannerChoice, tcp: number[], udp: number[]): Promise<Discovery> {
  const net = new Egress({ scope: new Scope([`${host}/32`]), excludePorts: { tcp: [2024], udp: [2024] }, maxConnectionsPerDevice: 32 });
  return discover(net, host, {
    scanner,
    ports: { tcp, udp },
    excludedTcp: [2024],
    scanConcurrency: 32,
    identifyConcurrency: 8,
    timings: { connectMs: 2000, bannerMs: 600, probeMs: 1500 },
    signal: new AbortController().signal,
  });
}

describe('discovery against real servers', () => {
  it('identifies every TCP protocol by what the service says, on any port', async () => {
    // Closed neighbours are scanned too: they must not appear.
    const d = await run('builtin', [...TCP_PORTS, 10024, 10081], []);
    expect(d.scanner).toBe('builtin');
    const got = Object.fromEntries(d.services.map((s) => [s.port, { protocol: s.protocol, tls: s.tls, identifiedBy: s.identifiedBy }]));
    expect(got).toEqual(EXPECTED);
    const ssh = d.services.find((s) => s.port === PORTS.ssh);
    expect(ssh?.banner).toMatch(/^SSH-2\.0-dropbear/);
    // Each identification keeps the exchange that decided it, with the device's own bytes.
    const https = d.services.find((s) => s.port === PORTS.httpsOnMqttPort);
    expect(https?.evidence.some((e) => e.summary.startsWith('TLS ClientHello: ServerHello'))).toBe(true);
    expect(https?.evidence.some((e) => String(e.received).startsWith('HTTP/1.'))).toBe(true);
  });

  it('identifies CoAP on UDP and DTLS on the PSK server, and stays silent about a silent UDP port', async () => {
    const d = await run('builtin', [], [PORTS.coap, PORTS.coapPsk + 1, 15999]);
    const udp = Object.fromEntries(d.services.map((s) => [s.port, { protocol: s.protocol, tls: s.tls, identifiedBy: s.identifiedBy }]));
    expect(udp).toEqual({
      [PORTS.coap]: { protocol: 'coap', tls: false, identifiedBy: 'coap-response' },
      [PORTS.coapPsk + 1]: { protocol: 'dtls', tls: true, identifiedBy: 'dtls-hello-verify' },
    });
    expect(d.services.find((s) => s.port === PORTS.coap)?.banner).toMatch(/^ACK 2\.05/);
  });

  it('nmap finds the same open TCP ports as the built-in scanner', async () => {
    const ports = [...TCP_PORTS, 10024, 10081];
    const [builtin, nmap] = [await run('builtin', ports, []), await run('nmap', ports, [])];
    expect(nmap.scanner).toBe('nmap');
    expect(nmap.services.map((s) => s.port)).toEqual(builtin.services.map((s) => s.port));
    expect(nmap.scanEvidence.data?.command).toMatch(/^nmap -sT -Pn -n .*--exclude-ports 2024/);
    expect(nmap.services.map((s) => s.protocol)).toEqual(builtin.services.map((s) => s.protocol));
  });
});
