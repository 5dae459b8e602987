import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa } from '../certs.js';
import { declare, writeDeclaration } from '../declaration.js';
import { ServiceGroup, type DeviceDefinition, type RunningDevice } from '../device.js';
import { startMqttServer } from '../servers/mqtt.js';
import { generateSshKeyPair, startSshServer } from '../servers/ssh.js';
import { startHttpsServer } from '../servers/web.js';

/** A password generated per run: "unique per device" in the lab means unique per start. */
function uniquePassword(): string {
  return randomBytes(12).toString('base64url');
}

// TLS 1.2 suites limited to ECDHE with AEAD; TLS 1.3 suites are configured apart and left at Node's
// (all AEAD) default.
const TLS12_CIPHERS = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'].join(':');

/**
 * The hardened hub: what the camera should have been. Every service is declared, logins are by key
 * or by per-device secret, and TLS is 1.2+ with a certificate that validates against the declared
 * trust anchor.
 */
export const hardenedHub: DeviceDefinition = {
  id: 'hardened-hub',
  title: 'Hardened smart-home hub (keys, TLS 1.2+, declared services)',
  weaknesses: [
    'None intended. Residual: the HTTPS certificate chains to a private lab CA, so it validates only for a client given the declared trust anchor.',
    'Residual: the SSH identification string names the server software (ssh2-js); nothing else about the firmware is disclosed.',
    'Residual: no plain-HTTP listener redirects to HTTPS; a browser pointed at http:// gets no answer.',
  ],

  async start(context): Promise<RunningDevice> {
    const { address, dir } = context;
    const group = new ServiceGroup(context);
    try {
      const ca = await createCa({ commonName: 'iot-harness lab CA (hardened-hub)' });
      const leaf = await ca.issue({ ipAddresses: [address], commonName: address });
      const caFile = `${hardenedHub.id}-ca.pem`;
      await writeFile(join(dir, caFile), ca.cert, 'utf8');

      // The admin key is written out for workshops (`ssh -i <dir>/hardened-hub-admin.key admin@<address>`).
      const adminKey = generateSshKeyPair('admin@hardened-hub');
      await writeFile(join(dir, `${hardenedHub.id}-admin.key`), adminKey.private, { encoding: 'utf8', mode: 0o600 });

      const mqttTest = { username: 'lab-tester', password: uniquePassword() };
      const mqttDevice = { username: 'hub', password: uniquePassword() };

      const ssh = await group.add('ssh', { tls: false, note: 'public keys only' }, (listen) =>
        startSshServer({ ...listen, auth: { kind: 'publickey', authorizedKeys: [{ username: 'admin', publicKey: adminKey.public }] } }),
      );
      const https = await group.add('https', { tls: true, note: 'TLS 1.2+ only; certificate from the declared lab CA' }, (listen) =>
        startHttpsServer({
          ...listen,
          key: leaf.key,
          cert: leaf.cert,
          minVersion: 'TLSv1.2',
          maxVersion: 'TLSv1.3',
          ciphers: TLS12_CIPHERS,
          title: 'Hub settings',
          credentials: [{ username: 'admin', password: uniquePassword() }],
          realm: 'hub',
          headers: { 'Strict-Transport-Security': 'max-age=31536000' },
        }),
      );
      const mqtts = await group.add('mqtts', { tls: true, note: 'MQTT over TLS; username and password required' }, (listen) =>
        startMqttServer({ ...listen, tls: { key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1.2' }, credentials: [mqttTest, mqttDevice], lockout: { afterFailures: 5, forMs: 60_000 } }),
      );

      const declarationPath = await writeDeclaration(dir, hardenedHub.id, {
        device: { vendor: 'Lab Home', model: 'Hub-2', firmware: '4.0.1', serial: `LABHUB-${randomBytes(3).toString('hex').toUpperCase()}` },
        credentials: { model: 'unique-per-device', test: [{ service: 'mqtt', ...mqttTest }] },
        trustAnchors: [`./${caFile}`],
        interfaces: [declare(ssh, 'maintenance shell, key-only'), declare(https, 'local web UI'), declare(mqtts, 'device telemetry and commands')],
        supportPeriod: { end: '2030-12-31', published: 'https://hub.lab.example/support' },
        vulnerabilityDisclosure: { url: 'https://hub.lab.example/security', contact: 'security@hub.lab.example' },
      });

      return {
        id: hardenedHub.id,
        title: hardenedHub.title,
        address,
        services: group.services,
        weaknesses: [...hardenedHub.weaknesses],
        declarationPath,
        stop: () => group.close(),
      };
    } catch (error) {
      await group.close();
      throw error;
    }
  },
};
