import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import type { Egress } from '../egress.js';
import { HarnessError } from '../errors.js';
import { mapPool } from '../io.js';

export type ScannerChoice = 'builtin' | 'nmap' | 'auto';

export interface TcpScanOptions {
  /** Connections in flight for this device (the egress cap still applies on top). */
  concurrency: number;
  timeoutMs: number;
  signal: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface TcpScanResult {
  scanner: 'builtin' | 'nmap';
  open: number[];
  /** Ports that neither accepted nor refused in time (firewalled or overloaded). */
  filtered: number;
  /** For nmap: the command line and its XML, as evidence. */
  command?: string;
  rawXml?: string;
}

/** Connect scan in Node: open = the handshake completed; refused = closed; silence = filtered. */
export async function builtinTcpScan(net: Egress, ip: string, ports: readonly number[], options: TcpScanOptions): Promise<TcpScanResult> {
  const open: number[] = [];
  let filtered = 0;
  let done = 0;
  await mapPool(ports, options.concurrency, async (port) => {
    if (options.signal.aborted) return;
    const conn = await net.connectTcp(ip, port, { timeoutMs: options.timeoutMs, signal: options.signal });
    if (conn.ok) {
      open.push(port);
      conn.socket.destroy();
    } else if (conn.reason === 'reset') {
      // A reset (not a refusal) comes after the handshake completed: something listens there.
      open.push(port);
    } else if (conn.reason === 'timeout') filtered++;
    done++;
    if (done % 256 === 0 || done === ports.length) options.onProgress?.(done, ports.length);
  });
  return { scanner: 'builtin', open: open.sort((a, b) => a - b), filtered };
}

/** Where nmap is, or undefined. Looks on PATH without spawning anything. */
export function findNmap(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, process.platform === 'win32' ? 'nmap.exe' : 'nmap');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this PATH entry: keep looking.
      continue;
    }
  }
  return undefined;
}

/** `1,2,3,7,8` → `1-3,7-8`: keeps nmap's command line short for `--ports all`. */
export function compressPorts(ports: readonly number[]): string {
  const sorted = [...ports].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i] as number;
    let end = start;
    while (sorted[i + 1] === end + 1) {
      end++;
      i++;
    }
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

interface NmapPort {
  '@_protocol': string;
  '@_portid': string;
  state?: { '@_state'?: string };
}

/** Open TCP ports from nmap's XML (`-oX -`). */
export function parseNmapXml(xml: string): number[] {
  const parser = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'port' || name === 'host' });
  const doc = parser.parse(xml) as { nmaprun?: { host?: { ports?: { port?: NmapPort[] } }[] } };
  const open: number[] = [];
  for (const host of doc.nmaprun?.host ?? []) {
    for (const p of host.ports?.port ?? []) {
      if (p['@_protocol'] === 'tcp' && p.state?.['@_state'] === 'open') open.push(Number(p['@_portid']));
    }
  }
  return open.sort((a, b) => a - b);
}

/**
 * nmap connect scan (`-sT`, no ping, no DNS), XML parsed. The egress authorises the address first and
 * only non-excluded ports are passed; `--exclude-ports` is passed too, so nmap itself refuses them.
 */
export async function nmapTcpScan(net: Egress, nmap: string, ip: string, ports: readonly number[], excluded: readonly number[], options: TcpScanOptions): Promise<TcpScanResult> {
  net.authorize(ip);
  if (ports.length === 0) return { scanner: 'nmap', open: [], filtered: 0 };
  const args = ['-sT', '-Pn', '-n', '--open', '-oX', '-', '--max-retries', '1', '--min-parallelism', String(Math.min(options.concurrency, 256)), '--max-parallelism', String(options.concurrency), '-p', compressPorts(ports)];
  if (excluded.length) args.push('--exclude-ports', compressPorts(excluded));
  if (ip.includes(':')) args.push('-6');
  args.push(ip);
  const result = await execa(nmap, args, { reject: false, cancelSignal: options.signal, maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60 * 1000 });
  if (result.failed || result.exitCode !== 0) {
    throw new HarnessError('E_NMAP', `nmap failed (exit ${result.exitCode ?? '?'}): ${String(result.stderr || result.shortMessage || 'no message').split('\n')[0] ?? ''}`, { cause: result });
  }
  const open = parseNmapXml(result.stdout).filter((p) => !excluded.includes(p));
  options.onProgress?.(ports.length, ports.length);
  return { scanner: 'nmap', open, filtered: 0, command: `nmap ${args.join(' ')}`, rawXml: result.stdout };
}
