import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, createSelfSigned, type IssuedCert } from '../../lab/certs.js';
import { tlsHandshake } from './clients.js';

const servers: Server[] = [];

/** A TLS server with the given cert on 127.0.0.1, port 0; closed after each test. */
async function serve({ key, cert }: IssuedCert): Promise<number> {
  const server = createServer({ key, cert }, (socket) => socket.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return address.port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('createSelfSigned', () => {
  it('makes an RSA 2048 / SHA-256 certificate for an IP address that node:tls serves', async () => {
    const issued = await createSelfSigned({ ipAddresses: ['127.0.0.1'] });
    const cert = new X509Certificate(issued.cert);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(issued.certificate.signatureAlgorithm).toMatchObject({ hash: { name: 'SHA-256' } });
    // Trusting the certificate itself, a client validates the chain and the IP SAN.
    const port = await serve(issued);
    expect(await tlsHandshake({ host: '127.0.0.1', port, ca: issued.cert, rejectUnauthorized: true })).toMatchObject({ ok: true, authorized: true });
  });

  it('makes deliberately weak certificates: RSA 1024 signed with SHA-1', async () => {
    const issued = await createSelfSigned({ ipAddresses: ['127.0.0.1'], key: { type: 'rsa', bits: 1024 }, hash: 'SHA-1' });
    expect(new X509Certificate(issued.cert).publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect(issued.certificate.signatureAlgorithm).toMatchObject({ hash: { name: 'SHA-1' } });
  });

  it('makes an expired certificate that a validating client rejects as expired', async () => {
    const day = 86_400_000;
    const issued = await createSelfSigned({ ipAddresses: ['127.0.0.1'], notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    expect(new Date(new X509Certificate(issued.cert).validTo).getTime()).toBeLessThan(Date.now());
    const port = await serve(issued);
    const outcome = await tlsHandshake({ host: '127.0.0.1', port, ca: issued.cert, rejectUnauthorized: true });
    expect(outcome).toMatchObject({ ok: false, error: expect.stringMatching(/expired/i) as unknown });
  });

  it('makes ECDSA P-256 certificates', async () => {
    const issued = await createSelfSigned({ dnsNames: ['cam.lab.example'], key: { type: 'ecdsa' } });
    const cert = new X509Certificate(issued.cert);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.checkHost('cam.lab.example')).toBe('cam.lab.example');
  });

  it('refuses an IP SAN that is not an IP address', async () => {
    await expect(createSelfSigned({ ipAddresses: ['cam.local'] })).rejects.toThrow(/not an IP address/);
  });
});

describe('createCa', () => {
  it('issues leaves that chain to the CA and validate for their IP, and not under another CA', async () => {
    const ca = await createCa();
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'] });
    const caCert = new X509Certificate(ca.cert);
    const leafCert = new X509Certificate(leaf.cert);
    expect(caCert.ca).toBe(true);
    expect(leafCert.ca).toBe(false);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);

    const port = await serve(leaf);
    expect(await tlsHandshake({ host: '127.0.0.1', port, ca: ca.cert, rejectUnauthorized: true })).toMatchObject({ ok: true, authorized: true });
    const other = await createCa();
    expect(await tlsHandshake({ host: '127.0.0.1', port, ca: other.cert, rejectUnauthorized: true })).toMatchObject({ ok: false });
  });

  it('signs a leaf with the requested hash', async () => {
    const ca = await createCa();
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'], hash: 'SHA-1' });
    expect(leaf.certificate.signatureAlgorithm).toMatchObject({ hash: { name: 'SHA-1' } });
    expect(new X509Certificate(leaf.cert).verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
  });
});
