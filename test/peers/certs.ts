// Test certificates made in-process with @peculiar/x509: no openssl subprocess, and the knobs the TLS
// probes need to see both sides (a CA-signed leaf a client can verify, or a self-signed, expired or
// weak-key one that must be flagged).
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's webcrypto implements the interface x509 expects; the cast bridges the DOM and Node typings.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Key algorithm of the leaf: `rsa1024` exists to build a deliberately weak server. */
export type KeyKind = 'rsa2048' | 'rsa1024' | 'p256';

export interface CertOptions {
  /** Subject CN of the leaf. */
  commonName?: string;
  /** IP addresses for the subjectAltName (the loopback alias the server binds). */
  ips?: string[];
  keyKind?: KeyKind;
  /** Self-signed leaf instead of one issued by a fresh test CA. */
  isSelfSigned?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

/** PEM files written to a directory, plus their contents for in-process clients. */
export interface CertFiles {
  /** The issuing CA (equals the leaf when self-signed): what a client must trust. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Leaf certificate and key concatenated: the form lighttpd's ssl.pemfile accepts alone. */
  pemFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;

function algorithmFor(kind: KeyKind): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (kind) {
    case 'p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'rsa1024':
    case 'rsa2048':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        hash: 'SHA-256',
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: kind === 'rsa1024' ? 1024 : 2048,
      };
  }
}

function signingFor(kind: KeyKind): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return kind === 'p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

async function generateKeys(kind: KeyKind): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithmFor(kind), true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

/** Makes a leaf certificate (CA-issued by default) and writes ca.pem, cert.pem, key.pem, server.pem to `dir`. */
export async function makeCert(dir: string, options: CertOptions = {}): Promise<CertFiles> {
  const keyKind = options.keyKind ?? 'rsa2048';
  const commonName = options.commonName ?? 'iot-harness test peer';
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY_MS);
  const leafKeys = await generateKeys(keyKind);
  const leafExtensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension((options.ips ?? []).map((ip) => ({ type: 'ip' as const, value: ip }))),
  ];

  let caPem: string;
  let certPem: string;
  if (options.isSelfSigned) {
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${commonName}`,
      keys: leafKeys,
      notBefore,
      notAfter,
      signingAlgorithm: signingFor(keyKind),
      extensions: leafExtensions,
    });
    certPem = cert.toString('pem');
    caPem = certPem;
  } else {
    // The CA is always a sound P-256 key, so only the leaf carries the property under test.
    const caKeys = await generateKeys('p256');
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=iot-harness test CA',
      keys: caKeys,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 60 * DAY_MS),
      signingAlgorithm: signingFor('p256'),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${commonName}`,
      issuer: ca.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: signingFor('p256'),
      extensions: leafExtensions,
    });
    caPem = ca.toString('pem');
    certPem = cert.toString('pem');
  }
  const keyPem = await keyToPem(leafKeys.privateKey);

  const files = {
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'cert.pem'),
    keyFile: join(dir, 'key.pem'),
    pemFile: join(dir, 'server.pem'),
  };
  await writeFile(files.caFile, `${caPem}\n`);
  await writeFile(files.certFile, `${certPem}\n`);
  await writeFile(files.keyFile, `${keyPem}\n`, { mode: 0o600 });
  await writeFile(files.pemFile, `${certPem}\n${keyPem}\n`, { mode: 0o600 });
  return { ...files, caPem, certPem, keyPem };
}
