import { constants, createPublicKey, createVerify, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../harness/errors.js';

/**
 * Detached signatures over update images and manifests, with the algorithms a declaration may name
 * (`update.signing.algorithm`). ECDSA and RSA-PSS hash as the bytes stream in; Ed25519 (pure EdDSA)
 * signs the message itself, so its verifier has to hold the whole image.
 */

export type SigningAlgorithm = 'ed25519' | 'ecdsa-p256-sha256' | 'rsa-pss-sha256';

/** How the signature file was written: the bytes themselves, or their base64 text. */
export type SignatureEncoding = 'raw' | 'base64';

/** Whether the algorithm needs the whole message in memory (no streaming verification). */
export function needsWholeImage(algorithm: SigningAlgorithm): boolean {
  return algorithm === 'ed25519';
}

const KEY_TYPES: Record<SigningAlgorithm, { types: readonly string[]; curve?: string; label: string }> = {
  ed25519: { types: ['ed25519'], label: 'an Ed25519 key' },
  'ecdsa-p256-sha256': { types: ['ec'], curve: 'prime256v1', label: 'an EC P-256 key' },
  'rsa-pss-sha256': { types: ['rsa', 'rsa-pss'], label: 'an RSA key' },
};

/**
 * The declared public key (`update.signing.publicKey`, already an absolute path): a PEM or DER public
 * key, or a certificate carrying it. A missing file or a key that does not suit the algorithm is the
 * declaration's fault: a ConfigError naming the file and the fix.
 */
export function loadPublicKey(path: string, algorithm: SigningAlgorithm): KeyObject {
  const where = `update.signing.publicKey ${path}`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`${where}: the file cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)}); give the path of the public key, relative to the declaration`, { cause });
  }
  let key: KeyObject;
  try {
    const text = bytes.toString('latin1');
    if (text.includes('-----BEGIN CERTIFICATE-----')) key = new X509Certificate(bytes).publicKey;
    else if (text.includes('-----BEGIN')) key = createPublicKey(text);
    else key = createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new ConfigError(`${where}: not a public key (${cause instanceof Error ? cause.message : String(cause)}); give a PEM "PUBLIC KEY" or a certificate`, { cause });
  }
  const want = KEY_TYPES[algorithm];
  const type = key.asymmetricKeyType ?? 'unknown';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (!want.types.includes(type) || (want.curve !== undefined && curve !== want.curve)) {
    throw new ConfigError(`${where}: holds ${type === 'ec' ? `an EC ${curve ?? 'unknown-curve'}` : `a ${type}`} key, but update.signing.algorithm ${algorithm} needs ${want.label}`);
  }
  return key;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The signature bytes from a `.sig` file that holds either the raw signature or its base64 (DESIGN
 * accepts both). Raw signatures are random-looking bytes: the chance that 64 of them are all base64
 * characters is about 4^-64, so text that is entirely base64 (whitespace aside) is read as base64.
 */
export function decodeSignature(file: Buffer): { signature: Buffer; encoding: SignatureEncoding } {
  const text = file.toString('latin1').replace(/\s+/g, '');
  if (text.length > 0 && text.length % 4 === 0 && BASE64.test(text)) return { signature: Buffer.from(text, 'base64'), encoding: 'base64' };
  return { signature: file, encoding: 'raw' };
}

/** The outcome of one verification: valid, or why not. A malformed signature is a fact, not a throw. */
export type VerifyOutcome = { valid: true } | { valid: false; error: string };

/** Fed the image chunk by chunk as it downloads; `verify` is called once, after the last chunk. */
export interface ImageVerifier {
  readonly algorithm: SigningAlgorithm;
  update(chunk: Buffer): void;
  verify(signature: Buffer): VerifyOutcome;
}

function outcome(check: () => boolean, algorithm: SigningAlgorithm): VerifyOutcome {
  try {
    return check() ? { valid: true } : { valid: false, error: `the ${algorithm} signature does not verify with the declared key` };
  } catch (cause) {
    // OpenSSL refuses some malformed signatures (bad DER, wrong length) with an error rather than "false".
    return { valid: false, error: `the ${algorithm} signature is malformed (${cause instanceof Error ? cause.message : String(cause)})` };
  }
}

/**
 * A verifier for `algorithm`. ECDSA P-256 and RSA-PSS feed a SHA-256 hash as chunks arrive, so memory
 * stays flat whatever the image size. Ed25519 keeps every chunk: the caller's byte cap is its memory cap
 * (and the final concatenation briefly needs as much again).
 */
export function createImageVerifier(algorithm: SigningAlgorithm, key: KeyObject): ImageVerifier {
  if (algorithm === 'ed25519') {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      algorithm,
      update(chunk) {
        chunks.push(chunk);
        size += chunk.length;
      },
      verify(signature) {
        const message = Buffer.concat(chunks, size);
        chunks.length = 0;
        return outcome(() => verify(null, message, key, signature), algorithm);
      },
    };
  }
  const hashing = createVerify('sha256');
  return {
    algorithm,
    update(chunk) {
      hashing.update(chunk);
    },
    verify(signature) {
      if (algorithm === 'ecdsa-p256-sha256') {
        // 64 bytes is r||s (IEEE P1363, as WebCrypto and many signing tools write it); anything else DER.
        const dsaEncoding = signature.length === 64 ? 'ieee-p1363' : 'der';
        return outcome(() => hashing.verify({ key, dsaEncoding }, signature), algorithm);
      }
      return outcome(() => hashing.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature), algorithm);
    },
  };
}

/** The image a signed manifest names. */
export interface ManifestImage {
  url?: string;
  /** Lowercase hex. */
  sha256?: string;
  /** Why nothing could be read from it. */
  error?: string;
}

/**
 * The image a JSON manifest names: `{ "url": ..., "sha256": ... }` or `{ "image": { "url": ..., "sha256": ... } }`
 * (other fields are ignored). A manifest that is not JSON names nothing: a fact about the device's data.
 */
export function parseManifest(bytes: Buffer): ManifestImage {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { error: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof json !== 'object' || json === null) return { error: 'not a JSON object' };
  const top = json as Record<string, unknown>;
  const inner = typeof top.image === 'object' && top.image !== null ? (top.image as Record<string, unknown>) : top;
  const url = typeof inner.url === 'string' ? inner.url : undefined;
  const sha256 = typeof inner.sha256 === 'string' ? inner.sha256.toLowerCase() : undefined;
  return { ...(url === undefined ? {} : { url }), ...(sha256 === undefined ? {} : { sha256 }) };
}
