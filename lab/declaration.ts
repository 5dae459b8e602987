import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LabService } from './device.js';

/**
 * The manufacturer's declaration (ICS/IXIT) a lab device ships with, in the shape DESIGN.md gives
 * ("Declaration (ICS/IXIT) file"). The harness validates it with its own zod schema; this type only
 * keeps the lab from writing fields that do not exist.
 */
export interface Declaration {
  device: { vendor: string; model: string; firmware: string; serial: string };
  credentials: {
    model: 'unique-per-device' | 'user-defined' | 'none';
    test?: { service: string; username: string; password: string }[];
  };
  /** Paths relative to the declaration file. */
  trustAnchors?: string[];
  interfaces: DeclaredInterface[];
  /** Where the device fetches its updates; paths relative to the declaration file. */
  update?: {
    urls: string[];
    trustAnchors?: string[];
    signing?: { algorithm: 'ed25519' | 'ecdsa-p256-sha256' | 'rsa-pss-sha256'; publicKey: string; signatureUrl?: string; manifest?: boolean };
  };
  supportPeriod?: { end: string; published: string };
  vulnerabilityDisclosure?: { url: string; contact: string };
  /** The DTLS pre-shared key the harness may use (CoAP over DTLS). */
  coap?: { psk?: { identity: string; key: string } };
}

export interface DeclaredInterface {
  port: number;
  transport: 'tcp' | 'udp';
  protocol: string;
  purpose: string;
}

/** Declares a bound service with the port it actually got, which is what the harness will find. */
export function declare(service: LabService, purpose: string): DeclaredInterface {
  return { port: service.port, transport: service.transport, protocol: service.protocol, purpose };
}

/** Writes `<id>.yaml` into `dir` and returns its path. */
export async function writeDeclaration(dir: string, id: string, declaration: Declaration): Promise<string> {
  const path = join(dir, `${id}.yaml`);
  const header = `# Declaration (ICS/IXIT) of the lab device "${id}", written by iot-harness for this lab run.\n`;
  await writeFile(path, header + stringify(declaration), 'utf8');
  return path;
}
