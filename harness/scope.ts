import { BlockList, isIP } from 'node:net';
import { ConfigError, ScopeError } from './errors.js';

/** A CIDR block as the user wrote it and as parsed. */
export interface Cidr {
  text: string;
  network: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * Default scope: addresses a lab LAN or a laptop can hold and the internet cannot.
 * Anything else (a public address) must be named with `--scope`.
 */
export const DEFAULT_SCOPE: readonly string[] = [
  '127.0.0.0/8', // loopback
  '10.0.0.0/8', // RFC 1918
  '172.16.0.0/12', // RFC 1918
  '192.168.0.0/16', // RFC 1918
  '169.254.0.0/16', // IPv4 link-local
  '::1/128', // IPv6 loopback
  'fe80::/10', // IPv6 link-local
  'fc00::/7', // IPv6 unique local (ULA)
];

export function parseCidr(text: string, where = '--scope'): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const network = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const family = isIP(network);
  if (family === 0) {
    throw new ConfigError(`${where}: "${text}" is not an IP address or CIDR block; write it like 192.168.50.0/24 or fd00::/8`);
  }
  const max = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : trimmed.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d+$/.test(prefixText) || prefix > max) {
    throw new ConfigError(`${where}: "${text}" has an invalid prefix length; use /0 to /${max}`);
  }
  return { text: trimmed, network, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** The set of addresses the harness may contact. Built once per run; immutable afterwards. */
export class Scope {
  readonly cidrs: readonly Cidr[];
  readonly isDefault: boolean;
  readonly #list = new BlockList();

  constructor(cidrs: readonly string[] = DEFAULT_SCOPE, where = '--scope') {
    this.isDefault = cidrs === DEFAULT_SCOPE;
    this.cidrs = cidrs.map((c) => parseCidr(c, where));
    for (const c of this.cidrs) this.#list.addSubnet(c.network, c.prefix, c.family);
  }

  /** Whether an IP literal lies inside the scope. IPv4-mapped IPv6 is judged as the IPv4 address. */
  contains(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const ip = mapped?.[1] ?? address;
    const family = isIP(ip);
    if (family === 0) return false;
    return this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  describe(): string {
    return this.isDefault ? 'the default scope (loopback, RFC 1918, link-local, ULA)' : `the scope ${this.cidrs.map((c) => c.text).join(', ')}`;
  }

  /** Throws a ScopeError that tells the user how to widen the scope. */
  assert(address: string, label = address): void {
    if (this.contains(address)) return;
    const block = isIP(address) === 6 ? `${address}/128` : `${address}/32`;
    throw new ScopeError(
      `${label} (${address}) is outside ${this.describe()}; nothing was sent to it. ` +
        `If this device is yours to test, add --scope ${block} (or the lab's CIDR block). ` +
        `--scope replaces the default, so list every block the run needs.`,
    );
  }
}
