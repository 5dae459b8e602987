import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { declare, writeDeclaration } from '../declaration.js';
import type { DeviceContext, DeviceDefinition, RunningDevice } from '../device.js';
import { generateSshKeyPair, startSshServer } from '../servers/ssh.js';
import { firmwareRelease, generateFirmwareSigningKey, urlOn } from '../servers/update.js';
import { startHttpServer, startHttpsServer } from '../servers/web.js';
import { issueFromLabCa, MODERN_TLS, serialNumber, startDevice, uniquePassword } from './common.js';

const MODEL = 'WR-840';

/**
 * The home router. Its lesson is the update channel: the weak build fetches unsigned firmware over
 * plain HTTP and keeps a factory SSH login; the hardened build serves a signed manifest over HTTPS
 * with a certificate from the declared lab CA, and logs in by key only.
 */
export const router: DeviceDefinition = {
  id: 'router',
  kind: 'home router',
  defaultMode: 'weak',
  modes: {
    weak: {
      title: 'Home router (weak: factory SSH login, unsigned firmware over plain HTTP)',
      weaknesses: [
        'SSH takes passwords and accepts the factory login admin/admin, which both the Mirai and the vendor lists hold (EN 303 645 5.1-1).',
        'The web admin page is plain HTTP behind Basic auth admin/admin: the password crosses the LAN in cleartext (5.1-1, 5.5-1, 5.5-7).',
        'Firmware comes from a plain-HTTP update URL (the declared /firmware/manifest.json): anyone on the path can swap the image (5.3-7).',
        'Neither the manifest nor the image is signed and no signing key is declared, so nothing can check an update is authentic (5.3-9, 5.3-10).',
        'SSH has no brute-force protection: the declared test account takes wrong passwords as fast as they come (5.1-5).',
        'The declaration claims user-defined passwords, which the factory login contradicts.',
        'No vulnerability disclosure policy and no support period are declared (5.2-1, 5.3-13).',
      ],
    },
    hardened: {
      title: 'Home router (hardened: key-only SSH, HTTPS admin, signed firmware over HTTPS)',
      weaknesses: [
        'None intended. Residual: the HTTPS certificate (admin page and update server) chains to a private lab CA, so it validates only for a client given the declared trust anchor.',
        'Residual: only the endpoint side of the update can be observed (TLS 1.2+, valid certificate, signed manifest naming the image hash); how the router installs an image and rejects a bad one needs an assessor (5.3-2).',
        'Residual: the web lockout is per account (5 wrong passwords lock it for 60 s), so someone on the LAN who knows the per-device admin name can keep the owner locked out.',
        'Residual: the SSH identification string names the server software (ssh2-js).',
      ],
    },
  },

  start(context): Promise<RunningDevice> {
    return context.mode === 'weak' ? startWeak(context) : startHardened(context);
  },
};

function startWeak(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(router, context, async (group) => {
    const factory = { username: 'admin', password: 'admin' };
    const tester = { username: 'lab-tester', password: uniquePassword() };
    const release = firmwareRelease({ product: MODEL, version: '3.16.9' });

    const ssh = await group.add('ssh', { tls: false, note: 'password logins; factory default admin/admin' }, (listen) =>
      startSshServer({ ...listen, auth: { kind: 'password', credentials: [factory, tester] }, ident: 'dropbear_2014.63' }),
    );
    const http = await group.add('http', { tls: false, note: 'admin/admin over Basic auth, cleartext; unsigned firmware under /firmware/' }, (listen) =>
      startHttpServer({ ...listen, title: 'WR-840 Router Admin', credentials: [factory], realm: 'WR-840', serverHeader: 'mini_httpd/1.19', files: release.files }),
    );

    return writeDeclaration(dir, router.id, {
      device: { vendor: 'Lab Networks', model: MODEL, firmware: '3.16.9', serial: 'LABRTR-0001' },
      credentials: { model: 'user-defined', test: [{ service: 'ssh', ...tester }] },
      interfaces: [declare(ssh, 'maintenance shell'), declare(http, 'local web admin and firmware downloads')],
      // The URL names the port actually bound: devices sharing 127.0.0.1 push this one off port 80.
      update: { urls: [urlOn('http', address, http.port, release.manifestPath)] },
    });
  });
}

function startHardened(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(router, context, async (group) => {
    const { leaf, caFile } = await issueFromLabCa(dir, router.id, address, 'iot-harness lab CA (router)');

    const signing = generateFirmwareSigningKey();
    const keyFile = `${router.id}-fw.pub`;
    await writeFile(join(dir, keyFile), signing.publicKeyPem, 'utf8');
    const release = firmwareRelease({ product: MODEL, version: '5.2.0', signingKey: signing.privateKey });

    // For workshops: `ssh -i <dir>/router-admin.key admin@<address>`.
    const adminKey = generateSshKeyPair('admin@router');
    await writeFile(join(dir, `${router.id}-admin.key`), adminKey.private, { encoding: 'utf8', mode: 0o600 });

    // The web admin name is per device too (as some routers now ship it): the lockout counts only
    // real accounts, so a scan guessing admin/... can neither hit this one nor lock its owner out.
    const admin = { username: `admin-${randomBytes(2).toString('hex')}`, password: uniquePassword() };
    const tester = { username: 'lab-tester', password: uniquePassword() };

    const ssh = await group.add('ssh', { tls: false, note: 'public keys only' }, (listen) =>
      startSshServer({ ...listen, auth: { kind: 'publickey', authorizedKeys: [{ username: 'admin', publicKey: adminKey.public }] } }),
    );
    const https = await group.add('https', { tls: true, note: 'TLS 1.2+; lab-CA certificate; lockout; signed firmware under /firmware/' }, (listen) =>
      startHttpsServer({
        ...listen,
        ...MODERN_TLS,
        key: leaf.key,
        cert: leaf.cert,
        title: 'WR-840 Router Admin',
        credentials: [admin, tester],
        realm: 'WR-840',
        headers: { 'Strict-Transport-Security': 'max-age=31536000' },
        lockout: { afterFailures: 5, forMs: 60_000 },
        files: release.files,
      }),
    );

    return writeDeclaration(dir, router.id, {
      device: { vendor: 'Lab Networks', model: MODEL, firmware: '5.2.0', serial: serialNumber('LABRTR') },
      credentials: { model: 'unique-per-device', test: [{ service: 'https', ...tester }] },
      // Behind the admin page and the update server alike; update.trustAnchors defaults to it.
      trustAnchors: [`./${caFile}`],
      interfaces: [declare(ssh, 'maintenance shell, key-only'), declare(https, 'local web admin and firmware downloads')],
      // No plain-HTTP listener at all: the harness asks ports 80 and 8080 for the same path and finds nothing.
      update: {
        urls: [urlOn('https', address, https.port, release.manifestPath)],
        signing: { algorithm: 'ed25519', publicKey: `./${keyFile}`, manifest: true },
      },
      supportPeriod: { end: '2031-06-30', published: 'https://router.lab.example/support' },
      vulnerabilityDisclosure: { url: 'https://router.lab.example/security', contact: 'security@router.lab.example' },
    });
  });
}
