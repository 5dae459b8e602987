import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from './errors.js';
import { displayPath } from './input.js';

/** The ed25519 key that signs a run folder's manifest.json. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The PKCS#8 PEM file it was read from. */
  path: string;
  /** True when this call generated the key (the user's first run): the CLI says where it put it. */
  created: boolean;
}

/**
 * The user's iot-harness config folder: `IOT_HARNESS_CONFIG_DIR` (tests point it at a temp folder),
 * else `$XDG_CONFIG_HOME/iot-harness`, else `~/.config/iot-harness`.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IOT_HARNESS_CONFIG_DIR) return env.IOT_HARNESS_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'iot-harness');
  return join(homedir(), '.config', 'iot-harness');
}

/** Where the generated signing key lives when no `--signing-key` is given. */
export function defaultKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'signing-key.pem');
}

/** `SHA256:` and the base64 of the SPKI DER's sha256, as `ssh-keygen -l` prints key fingerprints. */
export function fingerprint(publicKey: KeyObject): string {
  return `SHA256:${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64').replace(/=+$/, '')}`;
}

function readPrivateKey(file: string, what: string, fix: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${what} ${displayPath(file)}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); ${fix}`, { cause });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new ConfigError(`${what} ${displayPath(file)}: not a PEM private key (${(cause as Error).message}); ${fix}`, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`${what} ${displayPath(file)}: a ${privateKey.asymmetricKeyType ?? 'symmetric'} key; manifests are signed with ed25519; ${fix}`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey), path: file, created: false };
}

/**
 * The key named by `--signing-key`, else the user's own key, generated on first use (mode 0600, in a
 * 0700 folder). A file that is not an ed25519 private key is a ConfigError naming it.
 */
export function resolveSigningKey(file?: string, env: NodeJS.ProcessEnv = process.env): SigningKey {
  const generate = 'generate one with `openssl genpkey -algorithm ed25519 -out key.pem`';
  if (file !== undefined) return readPrivateKey(file, '--signing-key', generate);
  const path = defaultKeyPath(env);
  const fix = 'delete it to have a new one generated, or give --signing-key FILE';
  if (existsSync(path)) return readPrivateKey(path, 'signing key', fix);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    // `wx`: two first runs at once must not each write a key and sign with the one that lost.
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
    // The umask may have widened what `mode` asked for.
    chmodSync(path, 0o600);
    return { privateKey, publicKey: createPublicKey(privateKey), path, created: true };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return readPrivateKey(path, 'signing key', fix);
    throw new ConfigError(`cannot create the signing key ${displayPath(path)} (${(cause as Error).message}); set IOT_HARNESS_CONFIG_DIR to a writable folder or give --signing-key FILE`, { cause });
  }
}

/**
 * A key to check signatures against (`verify --key`): an SPKI public key PEM, or a private key PEM
 * (its public half is used).
 */
export function readPublicKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`--key ${displayPath(file)}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); give the signer's public key as PEM`, { cause });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new ConfigError(`--key ${displayPath(file)}: not a PEM public key (${(cause as Error).message}); export one with \`openssl pkey -in signing-key.pem -pubout\``, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`--key ${displayPath(file)}: a ${key.asymmetricKeyType ?? 'symmetric'} key; manifests are signed with ed25519`);
  return key;
}
