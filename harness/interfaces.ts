import type { DeclarationData } from './declaration.js';
import type { Service } from './report-schema.js';

/** Protocol names that mean the same service to a declaration reader. */
const SAME: Record<string, string> = { dtls: 'coaps' };

/** Found protocols too vague to contradict a claim: TLS whose inner protocol stayed hidden, or unknown. */
const VAGUE = new Set(['unknown', 'tls']);

function norm(protocol: string): string {
  const p = protocol.toLowerCase();
  return SAME[p] ?? p;
}

export interface InterfaceComparison {
  undeclared: Service[];
  absent: { port: number; transport: 'tcp' | 'udp'; protocol: string; purpose?: string }[];
  mismatched: { service: Service; declared: string }[];
}

/**
 * Services found vs interfaces declared, matched by port and transport (what a scan can see). A
 * declared port speaking another protocol is a mismatch, not an undeclared service.
 */
export function compareInterfaces(services: readonly Service[], declaration: DeclarationData | undefined): InterfaceComparison {
  const declared = declaration?.interfaces;
  if (declared === undefined) return { undeclared: [], absent: [], mismatched: [] };
  const key = (port: number, transport: string): string => `${transport}/${port}`;
  const found = new Map(services.map((s) => [key(s.port, s.transport), s]));
  const claims = new Map(declared.map((d) => [key(d.port, d.transport), d]));
  const undeclared = services.filter((s) => !claims.has(key(s.port, s.transport)));
  const absent = declared
    .filter((d) => !found.has(key(d.port, d.transport)))
    .map((d) => ({ port: d.port, transport: d.transport, protocol: d.protocol, ...(d.purpose === undefined ? {} : { purpose: d.purpose }) }));
  const mismatched = services.flatMap((s) => {
    const claim = claims.get(key(s.port, s.transport));
    return claim && !VAGUE.has(s.protocol) && norm(claim.protocol) !== norm(s.protocol) ? [{ service: s, declared: claim.protocol }] : [];
  });
  return { undeclared, absent, mismatched };
}
