import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { createCa, type IssuedCert } from '../certs.js';
import { ServiceGroup, type DeviceContext, type DeviceDefinition, type RunningDevice } from '../device.js';

/** A password generated per run: "unique per device" in the lab means unique per start. */
export function uniquePassword(): string {
  return randomBytes(12).toString('base64url');
}

/** A serial number made per start, e.g. `LABHUB-3F9A0C`: `prefix` and six hex digits. */
export function serialNumber(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex').toUpperCase()}`;
}

/** TLS settings for `startHttpsServer`. */
export interface TlsSettings {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers: string;
}

// TLS 1.2 suites limited to ECDHE with AEAD; TLS 1.3 suites are configured apart and left at Node's
// (all AEAD) default.
export const TLS12_CIPHERS = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'].join(':');

/** What a hardened device offers: TLS 1.2 and 1.3 only, ECDHE + AEAD suites for 1.2. */
export const MODERN_TLS: Readonly<TlsSettings> = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: TLS12_CIPHERS };

/**
 * What a cheap device's embedded stack offers: TLS 1.0 to 1.2. OpenSSL 3 refuses TLS 1.0 below
 * SECLEVEL=0: without it a device built to offer TLS 1.0 would look conformant.
 */
export const LEGACY_TLS: Readonly<TlsSettings> = { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'DEFAULT@SECLEVEL=0' };

/**
 * A CA made for this run, its certificate written to `<dir>/<deviceId>-ca.pem` (the declaration's
 * trust anchor), and a server certificate it issued for the device's address.
 */
export async function issueFromLabCa(dir: string, deviceId: string, address: string, caName: string): Promise<{ leaf: IssuedCert; caFile: string }> {
  const ca = await createCa({ commonName: caName });
  const leaf = await ca.issue({ ipAddresses: [address], commonName: address });
  const caFile = `${deviceId}-ca.pem`;
  await writeFile(join(dir, caFile), ca.cert, 'utf8');
  return { leaf, caFile };
}

/**
 * Starts one build of a device: `build` adds its servers to the group and writes the declaration,
 * returning the declaration's path. If anything fails, the servers already listening are closed
 * before the error propagates, so a half-started device leaks nothing.
 */
export async function startDevice(definition: DeviceDefinition, context: DeviceContext, build: (group: ServiceGroup) => Promise<string>): Promise<RunningDevice> {
  const group = new ServiceGroup(context);
  try {
    const declarationPath = await build(group);
    const { title, weaknesses } = definition.modes[context.mode];
    return {
      id: definition.id,
      mode: context.mode,
      title,
      address: context.address,
      services: group.services,
      weaknesses: [...weaknesses],
      declarationPath,
      stop: () => group.close(),
    };
  } catch (error) {
    await group.close();
    throw error;
  }
}
