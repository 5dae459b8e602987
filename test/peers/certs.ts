// Certificates for the daemons: the lab's in-memory generator (lab/certs.ts), written out as the PEM
// files that lighttpd and mosquitto read. A CA-issued leaf by default, so a client can verify the peer;
// self-signed, expired or weak-key variants are one option away for the tests that must flag them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createSelfSigned, type CertOptions as LabCertOptions } from '../../lab/certs.js';

export interface PeerCertOptions extends LabCertOptions {
  /** A self-signed leaf instead of one issued by a fresh test CA. */
  isSelfSigned?: boolean;
}

/** PEM files written to a daemon's dir, plus their contents for in-process clients. */
export interface CertFiles {
  /** The issuing CA (the leaf itself when self-signed): what a client must trust. */
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Makes a leaf certificate and writes ca.pem, cert.pem and key.pem (0600) to `dir`. */
export async function writeCert(dir: string, options: PeerCertOptions = {}): Promise<CertFiles> {
  const { isSelfSigned, ...certOptions } = options;
  let caPem: string;
  let leaf: { cert: string; key: string };
  if (isSelfSigned) {
    leaf = await createSelfSigned(certOptions);
    caPem = leaf.cert;
  } else {
    // The CA is always a sound ECDSA key, so only the leaf carries the property under test.
    const ca = await createCa({ key: { type: 'ecdsa' } });
    leaf = await ca.issue(certOptions);
    caPem = ca.cert;
  }
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
  await writeFile(files.caFile, caPem);
  await writeFile(files.certFile, leaf.cert);
  await writeFile(files.keyFile, leaf.key, { mode: 0o600 });
  return { ...files, caPem, certPem: leaf.cert, keyPem: leaf.key };
}
