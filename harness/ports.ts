import { ConfigError } from './errors.js';

export type Transport = 'tcp' | 'udp';

/** A port to scan, with its transport. */
export interface PortRef {
  port: number;
  transport: Transport;
}

/** A set of TCP and UDP ports. */
export interface PortSet {
  tcp: number[];
  udp: number[];
}

/**
 * The default TCP ports: a few hundred that IoT devices, cameras, NVRs, routers, printers, hubs and
 * industrial gateways are seen to open. Grouped by what usually listens there; docs/ports.md explains
 * each group. Ranges are inclusive.
 */
export const DEFAULT_TCP_GROUPS: Readonly<Record<string, readonly (number | readonly [number, number])[]>> = {
  'remote shells and debug': [22, 23, 2222, 2323, 23023, 4444, 5555, 6666, 9999, 4786, 1337],
  'file transfer': [20, 21, 69, 115, 445, 139, 873, 2049, 990, 989],
  'web interfaces': [80, 81, 82, 83, 84, 85, 88, 443, 591, 631, 1080, 1443, 2000, 2001, 3000, 3001, 4000, 4040, 4443, 4567, 5000, 5001, 5080, 5443, [7000, 7010], 7070, 7080, 7443, 7547, 7548, 7676, 7777, [8000, 8100], 8181, 8200, 8280, 8443, 8444, 8800, 8880, 8888, 8889, 9000, 9001, 9002, 9080, 9090, 9091, 9443, 9527, 9998, 10000, 10443, 18080, 18443, 20000, 49443, 60443],
  'video (RTSP, RTMP, vendor DVR/NVR)': [554, 555, 1935, 5554, 8554, 8555, 10554, 34567, 34599, 37777, 37778, 8899, 6036, 9530],
  'messaging (MQTT, AMQP, XMPP, CoAP over TCP)': [1883, 1884, 8883, 8884, 8083, 8084, 8885, 5671, 5672, 61613, 61614, 5222, 5223, 5683, 5684, 9883],
  'smart home and media (UPnP, Chromecast, Sonos, HomeKit, Hue, Roku)': [1400, 1900, 2869, 5357, 8008, 8009, 8060, 8123, 10243, [49152, 49160], 51826, 52869, 55443, 32400, 5540, 6053, 8089],
  'industrial and building (Modbus, S7, BACnet, DNP3, OPC UA, IEC 104)': [102, 502, 503, 1911, 1962, 2404, 4840, 4911, 20547, 44818, 47808, 9600, 789, 18245],
  'network management (SNMP, TR-069, Winbox, NETCONF)': [161, 162, 199, 830, 8291, 8728, 8729, 4567, 5431, 37215, 7574, 10001],
  'databases and caches left open': [1433, 1521, 3306, 5432, 6379, 9042, 9200, 11211, 27017, 28017, 5984, 8086, 2379],
  'mail and directory': [25, 110, 143, 389, 465, 587, 636, 993, 995],
  'remote desktop and VNC': [3389, [5800, 5801], [5900, 5910], 5985, 5986, 6000],
  'printers': [515, 9100, 9101, 9102, 9220],
  'VPN and tunnels': [500, 1194, 1701, 1723, 4500, 51820],
  'container and orchestration APIs': [2375, 2376, 6443, 10250, 10255],
  'voice (SIP)': [5060, 5061, 3478],
};

/** CoAP and CoAP over DTLS: the UDP ports every default run checks. */
export const DEFAULT_UDP_PORTS: readonly number[] = [5683, 5684];

function expand(groups: Readonly<Record<string, readonly (number | readonly [number, number])[]>>): number[] {
  const set = new Set<number>();
  for (const entries of Object.values(groups)) {
    for (const e of entries) {
      if (typeof e === 'number') set.add(e);
      else for (let p = e[0]; p <= e[1]; p++) set.add(p);
    }
  }
  return [...set].sort((a, b) => a - b);
}

export const DEFAULT_TCP_PORTS: readonly number[] = expand(DEFAULT_TCP_GROUPS);

export function defaultPorts(): PortSet {
  return { tcp: [...DEFAULT_TCP_PORTS], udp: [...DEFAULT_UDP_PORTS] };
}

/**
 * Parse a port list: `22,80-90,U:5683,T:8443`, `default`, or `all` (TCP 1-65535 plus the default UDP
 * ports). Bare numbers are TCP; `U:` switches to UDP and `T:` back, as in nmap.
 */
export function parsePorts(text: string, where = '--ports'): PortSet {
  const spec = text.trim().toLowerCase();
  if (spec === 'default') return defaultPorts();
  if (spec === 'all') return { tcp: Array.from({ length: 65535 }, (_, i) => i + 1), udp: [...DEFAULT_UDP_PORTS] };
  const tcp = new Set<number>();
  const udp = new Set<number>();
  let current: Transport = 'tcp';
  for (const raw of spec.split(',')) {
    let item = raw.trim();
    if (item === '') continue;
    const prefix = /^([tu]):/.exec(item);
    if (prefix) {
      current = prefix[1] === 'u' ? 'udp' : 'tcp';
      item = item.slice(2);
    }
    const range = /^(\d+)(?:-(\d+))?$/.exec(item);
    const lo = Number(range?.[1]);
    const hi = range?.[2] === undefined ? lo : Number(range[2]);
    if (!range || lo < 1 || hi > 65535 || lo > hi) {
      throw new ConfigError(`${where}: "${raw.trim()}" is not a port or range; use numbers 1-65535 like 22,80-90,U:5683 (or "all" or "default")`);
    }
    const into = current === 'udp' ? udp : tcp;
    for (let p = lo; p <= hi; p++) into.add(p);
  }
  if (tcp.size === 0 && udp.size === 0) throw new ConfigError(`${where}: no ports given; use a list like 22,80,443 or "all"`);
  return { tcp: [...tcp].sort((a, b) => a - b), udp: [...udp].sort((a, b) => a - b) };
}

/** Ports in `set` minus those in `excluded`. */
export function subtractPorts(set: PortSet, excluded: PortSet): PortSet {
  const tcpOut = new Set(excluded.tcp);
  const udpOut = new Set(excluded.udp);
  return { tcp: set.tcp.filter((p) => !tcpOut.has(p)), udp: set.udp.filter((p) => !udpOut.has(p)) };
}

export function unionPorts(a: PortSet, b: PortSet): PortSet {
  return {
    tcp: [...new Set([...a.tcp, ...b.tcp])].sort((x, y) => x - y),
    udp: [...new Set([...a.udp, ...b.udp])].sort((x, y) => x - y),
  };
}

export function countPorts(set: PortSet): number {
  return set.tcp.length + set.udp.length;
}

/**
 * Parse `--exclude-ports`: like `--ports`, except that a bare number excludes the port on both
 * transports, since the user means "never touch this port".
 */
export function parseExcludePorts(text: string, where = '--exclude-ports'): PortSet {
  if (!/[tu]:/i.test(text)) {
    const tcp = parsePorts(text, where).tcp;
    return { tcp, udp: [...tcp] };
  }
  return parsePorts(text, where);
}
