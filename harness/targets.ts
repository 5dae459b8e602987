import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { type Declaration, loadDeclaration } from './declaration.js';
import { ConfigError } from './errors.js';
import { displayPath, loadYamlFile } from './input.js';
import { type PortSet, parsePorts } from './ports.js';
import type { Scope } from './scope.js';

export const TargetsFileSchema = z.strictObject({
  targets: z
    .array(
      z.strictObject({
        address: z.string().min(1).describe('IP address or host name of the device'),
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, dot, dash or underscore').optional(),
        declaration: z.string().min(1).optional().describe('declaration file, relative to the targets file'),
        ports: z.string().optional().describe('ports for this target only, same syntax as --ports'),
      }),
    )
    .min(1, 'list at least one target'),
});

/** What the user asked to test, before scope checks and name resolution. */
export interface TargetRequest {
  address: string;
  name?: string;
  declarationPath?: string;
  ports?: PortSet;
  /** Where the request came from, for messages. */
  source: string;
}

/** A target ready to probe: resolved, in scope, declaration loaded. */
export interface Target {
  id: string;
  address: string;
  /** The IP the egress connects to. */
  ip: string;
  name?: string;
  declaration?: Declaration;
  ports?: PortSet;
}

export function readTargetsFile(file: string): TargetRequest[] {
  const path = resolve(file);
  const data = loadYamlFile(path, TargetsFileSchema, 'targets file');
  return data.targets.map((t, i) => {
    const where = `${displayPath(path)}: targets[${i}]`;
    const req: TargetRequest = { address: t.address, source: where };
    if (t.name !== undefined) req.name = t.name;
    if (t.declaration !== undefined) req.declarationPath = resolve(dirname(path), t.declaration);
    if (t.ports !== undefined) req.ports = parsePorts(t.ports, `${where}.ports`);
    return req;
  });
}

/** Strip `[...]` around an IPv6 literal. */
function bareAddress(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/**
 * Resolve names, check every address against the scope (before any packet to the device), load
 * declarations. A host name resolving to any out-of-scope address is refused as a whole: a lab name
 * that points outside the lab is exactly the mistake the scope exists to catch.
 */
export async function prepareTargets(requests: readonly TargetRequest[], scope: Scope): Promise<Target[]> {
  const targets: Target[] = [];
  const ids = new Set<string>();
  for (const req of requests) {
    const address = bareAddress(req.address.trim());
    let ips: string[];
    if (isIP(address)) ips = [address];
    else {
      try {
        ips = (await lookup(address, { all: true })).map((r) => r.address);
      } catch (cause) {
        throw new ConfigError(`${req.source}: cannot resolve "${address}" (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give an IP address or a name the lab's resolver knows`, { cause });
      }
    }
    for (const ip of ips) scope.assert(ip, `target ${address}`);
    const ip = ips[0] as string;
    const id = req.name ?? address;
    if (ids.has(id)) throw new ConfigError(`${req.source}: target "${id}" is listed twice; give each target a distinct name`);
    ids.add(id);
    const target: Target = { id, address, ip };
    if (req.name !== undefined) target.name = req.name;
    if (req.ports !== undefined) target.ports = req.ports;
    if (req.declarationPath !== undefined) target.declaration = loadDeclaration(req.declarationPath);
    targets.push(target);
  }
  return targets;
}
