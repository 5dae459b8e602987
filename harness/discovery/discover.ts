import { setMaxListeners } from 'node:events';
import type { Egress } from '../egress.js';
import { ConfigError } from '../errors.js';
import type { EvidenceInput } from '../evidence.js';
import { mapPool } from '../io.js';
import type { PortSet } from '../ports.js';
import type { Service } from '../report-schema.js';
import { type Identification, identifyTcp, identifyUdp, type IdentifyTimings } from './identify.js';
import { builtinTcpScan, findNmap, nmapTcpScan, type ScannerChoice, type TcpScanResult } from './scanners.js';

export interface DiscoveryOptions {
  scanner: ScannerChoice;
  ports: PortSet;
  /** Passed on to nmap; the builtin scanner never sees them (they are subtracted before). */
  excludedTcp: readonly number[];
  scanConcurrency: number;
  /** Ports identified at once on one device. */
  identifyConcurrency: number;
  timings: IdentifyTimings;
  signal: AbortSignal;
  onStatus?: (text: string) => void;
}

export interface DiscoveredService extends Service {
  banner?: string;
  identifiedBy?: string;
  anomalies: string[];
  evidence: EvidenceInput[];
}

export interface Discovery {
  scanner: 'builtin' | 'nmap';
  services: DiscoveredService[];
  scanEvidence: EvidenceInput;
  filtered: number;
}

function toService(port: number, transport: 'tcp' | 'udp', id: Identification): DiscoveredService {
  const s: DiscoveredService = { port, transport, protocol: id.protocol, tls: id.tls, anomalies: id.anomalies, evidence: id.evidence };
  if (id.banner !== undefined) s.banner = id.banner;
  if (id.identifiedBy !== undefined) s.identifiedBy = id.identifiedBy;
  return s;
}

/** Find open TCP ports, answering UDP ports, and what each speaks. */
export async function discover(net: Egress, ip: string, options: DiscoveryOptions): Promise<Discovery> {
  const { ports, signal } = options;
  // Every in-flight read listens for abort on this one signal: hundreds at once is expected, not a leak.
  setMaxListeners(0, signal);
  const nmap = options.scanner === 'builtin' ? undefined : findNmap();
  if (options.scanner === 'nmap' && !nmap) {
    // Asked for explicitly: saying so beats silently scanning another way.
    throw new ConfigError('--scanner nmap: nmap is not installed; install it (apt-get install nmap) or use --scanner builtin');
  }
  options.onStatus?.(`scanning ${ports.tcp.length} TCP ports${nmap ? ' with nmap' : ''}`);
  const scanOptions = {
    concurrency: options.scanConcurrency,
    timeoutMs: options.timings.connectMs,
    signal,
    onProgress: (done: number, total: number) => options.onStatus?.(`scanning TCP ${done}/${total}`),
  };
  const scan: TcpScanResult = nmap
    ? await nmapTcpScan(net, nmap, ip, ports.tcp, options.excludedTcp, scanOptions)
    : await builtinTcpScan(net, ip, ports.tcp, scanOptions);

  const scanEvidence: EvidenceInput = {
    kind: 'scan',
    summary: `${scan.scanner} TCP connect scan of ${ports.tcp.length} ports: ${scan.open.length} open${scan.filtered ? `, ${scan.filtered} filtered` : ''}`,
    transport: 'tcp',
    data: { scanner: scan.scanner, portsScanned: ports.tcp.length, open: scan.open, filtered: scan.filtered, ...(scan.command ? { command: scan.command } : {}) },
    ...(scan.rawXml ? { received: scan.rawXml } : {}),
  };

  let identified = 0;
  const total = scan.open.length + ports.udp.length;
  const tick = (what: string): void => options.onStatus?.(`identifying ${what} (${++identified}/${total})`);
  const tcp = await mapPool(scan.open, options.identifyConcurrency, async (port) => {
    const id = await identifyTcp(net, ip, port, options.timings, signal);
    tick(`tcp/${port}`);
    return toService(port, 'tcp', id);
  });
  const udp = await mapPool(ports.udp, options.identifyConcurrency, async (port) => {
    const id = await identifyUdp(net, ip, port, options.timings, signal);
    tick(`udp/${port}`);
    return id ? toService(port, 'udp', id) : undefined;
  });
  const services = [...tcp, ...udp.filter((s): s is DiscoveredService => s !== undefined)];
  return { scanner: scan.scanner, services, scanEvidence, filtered: scan.filtered };
}
