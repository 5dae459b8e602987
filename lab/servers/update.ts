import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { WebFile } from './web.js';

/**
 * A firmware release as a vendor's update server publishes it: an image, a JSON manifest naming the
 * image and its SHA-256, and, when the vendor signs, a detached Ed25519 signature beside each
 * (`<path>.sig`, base64). The files are served by the device's web server (`files` of web.ts), so the
 * update endpoint speaks exactly the transport of the listener it is put on: plain HTTP for the weak
 * router, HTTPS with the lab CA's certificate for the hardened one.
 */

export interface FirmwareOptions {
  /** Product name in the image header and the manifest, e.g. `WR-840`. */
  product: string;
  version: string;
  /** URL folder the files live under. Default: `/firmware`. */
  base?: string;
  /** Ed25519 private key: when given, the manifest and the image each get a `.sig` beside them. */
  signingKey?: KeyObject;
  /** Image size in bytes. Default: 64 KiB, enough for a real download and quick on loopback. */
  size?: number;
}

export interface FirmwareRelease {
  /** Every file of the release by URL path, for the web server's `files`. */
  files: Record<string, WebFile>;
  /** Path of the manifest (`/firmware/manifest.json`): the URL a declaration lists in `update.urls`. */
  manifestPath: string;
  /** Path of the image the manifest names. */
  imagePath: string;
  /** SHA-256 of the image, lowercase hex, as the manifest gives it. */
  sha256: string;
}

/** A fresh Ed25519 key pair for signing firmware: the private key stays in memory, the public key goes next to the declaration. */
export function generateFirmwareSigningKey(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Builds the release files. The manifest names the image by a relative URL, so it is valid on whatever port the server gets. */
export function firmwareRelease(options: FirmwareOptions): FirmwareRelease {
  const base = options.base ?? '/firmware';
  const fileName = `${options.product.toLowerCase()}-${options.version}.bin`;
  const header = Buffer.from(`${options.product} firmware ${options.version}\n`, 'utf8');
  // Random filler: every run publishes a different image, so a stale hash can never match by accident.
  const image = Buffer.concat([header, randomBytes(Math.max(0, (options.size ?? 64 * 1024) - header.length))]);
  const sha256 = createHash('sha256').update(image).digest('hex');
  const manifest = Buffer.from(`${JSON.stringify({ product: options.product, version: options.version, image: { url: fileName, sha256, size: image.length } }, null, 2)}\n`, 'utf8');

  const manifestPath = `${base}/manifest.json`;
  const imagePath = `${base}/${fileName}`;
  const files: Record<string, WebFile> = {
    [manifestPath]: { body: manifest, contentType: 'application/json' },
    [imagePath]: { body: image, contentType: 'application/octet-stream' },
  };
  if (options.signingKey) {
    // Ed25519 is pure EdDSA: no digest algorithm is named, the message itself is signed.
    for (const [path, data] of [[manifestPath, manifest], [imagePath, image]] as const) {
      files[`${path}.sig`] = { body: Buffer.from(`${sign(null, data, options.signingKey).toString('base64')}\n`, 'utf8'), contentType: 'text/plain' };
    }
  }
  return { files, manifestPath, imagePath, sha256 };
}

/** The URL of `path` on a bound server, e.g. `http://127.0.0.15:8080/firmware/manifest.json`. */
export function urlOn(scheme: 'http' | 'https', host: string, port: number, path: string): string {
  return new URL(path, `${scheme}://${host}:${port}`).href;
}
