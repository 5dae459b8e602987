import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSelfSigned } from '../certs.js';
import { declare, writeDeclaration } from '../declaration.js';
import type { DeviceContext, DeviceDefinition, RunningDevice } from '../device.js';
import { startMqttServer } from '../servers/mqtt.js';
import { generateSshKeyPair, startSshServer } from '../servers/ssh.js';
import { startHttpsServer } from '../servers/web.js';
import { issueFromLabCa, LEGACY_TLS, MODERN_TLS, serialNumber, startDevice, uniquePassword } from './common.js';

/** When the weak hub's declared support ended: always before any run, so 5.3-13 fails on the date. */
const WEAK_SUPPORT_END = '2023-12-31';

/**
 * The smart-home hub. Hardened: what the camera should have been. Every service is declared, logins
 * are by key or by per-device secret, and TLS is 1.2+ with a certificate that validates against the
 * declared trust anchor. Weak: the same hub as cheaply made, on a stock Raspberry Pi OS image: every
 * service declared, which shows that an honest interface list does not make the services safe.
 */
export const hub: DeviceDefinition = {
  id: 'hub',
  kind: 'home hub',
  defaultMode: 'hardened',
  modes: {
    hardened: {
      title: 'Home hub (hardened: keys, TLS 1.2+, declared services)',
      weaknesses: [
        'None intended. Residual: the HTTPS certificate chains to a private lab CA, so it validates only for a client given the declared trust anchor.',
        'Residual: the SSH identification string names the server software (ssh2-js); nothing else about the firmware is disclosed.',
        'Residual: no plain-HTTP listener redirects to HTTPS; a browser pointed at http:// gets no answer.',
      ],
    },
    weak: {
      title: 'Home hub (weak: stock Raspberry Pi image, SSH passwords, TLS 1.0, plain MQTT)',
      weaknesses: [
        'SSH takes passwords, and the stock Raspberry Pi OS login pi/raspberry still works (EN 303 645 5.1-1).',
        'The declaration claims user-defined passwords, which the stock SSH login contradicts (5.1-1).',
        'The HTTPS web UI accepts TLS 1.0 and TLS 1.1 (5.5-1) and presents a self-signed certificate (no trust anchor declared).',
        'MQTT runs without TLS, so its usernames, passwords and device traffic cross the network in cleartext (5.5-1).',
        'MQTT takes wrong passwords as fast as a client sends them, with no lockout and no delay (5.1-5).',
        `The declared support period ended on ${WEAK_SUPPORT_END} (5.3-13).`,
        'No vulnerability disclosure policy is declared (5.2-1).',
      ],
    },
  },

  start(context): Promise<RunningDevice> {
    return context.mode === 'hardened' ? startHardened(context) : startWeak(context);
  },
};

function startWeak(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(hub, context, async (group) => {
    // Made on first boot by the hub itself; nobody can validate it.
    const { key, cert } = await createSelfSigned({ ipAddresses: [address], commonName: address });
    const mqttTest = { username: 'lab-tester', password: uniquePassword() };
    const mqttDevice = { username: 'hub', password: uniquePassword() };

    const ssh = await group.add('ssh', { tls: false, note: 'password logins; stock pi/raspberry' }, (listen) =>
      startSshServer({ ...listen, auth: { kind: 'password', credentials: [{ username: 'pi', password: 'raspberry' }] } }),
    );
    // The web password is the one the owner set at setup: it is no default, only its transport is weak.
    const https = await group.add('https', { tls: true, note: 'TLS 1.0 accepted; self-signed certificate' }, (listen) =>
      startHttpsServer({ ...listen, ...LEGACY_TLS, key, cert, title: 'Hub settings', credentials: [{ username: 'admin', password: uniquePassword() }], realm: 'hub' }),
    );
    const mqtt = await group.add('mqtt', { tls: false, note: 'plain MQTT; username and password, no lockout' }, (listen) =>
      startMqttServer({ ...listen, credentials: [mqttTest, mqttDevice] }),
    );

    return writeDeclaration(dir, hub.id, {
      device: { vendor: 'Lab Home', model: 'Hub-1', firmware: '1.2.7', serial: serialNumber('LABHUB') },
      credentials: { model: 'user-defined', test: [{ service: 'mqtt', ...mqttTest }] },
      interfaces: [declare(ssh, 'maintenance shell'), declare(https, 'local web UI'), declare(mqtt, 'device telemetry and commands')],
      supportPeriod: { end: WEAK_SUPPORT_END, published: 'https://hub.lab.example/support' },
    });
  });
}

function startHardened(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(hub, context, async (group) => {
    const { leaf, caFile } = await issueFromLabCa(dir, hub.id, address, 'iot-harness lab CA (hardened-hub)');

    // The admin key is written out for workshops (`ssh -i <dir>/hub-admin.key admin@<address>`).
    const adminKey = generateSshKeyPair('admin@hardened-hub');
    await writeFile(join(dir, `${hub.id}-admin.key`), adminKey.private, { encoding: 'utf8', mode: 0o600 });

    const mqttTest = { username: 'lab-tester', password: uniquePassword() };
    const mqttDevice = { username: 'hub', password: uniquePassword() };

    const ssh = await group.add('ssh', { tls: false, note: 'public keys only' }, (listen) =>
      startSshServer({ ...listen, auth: { kind: 'publickey', authorizedKeys: [{ username: 'admin', publicKey: adminKey.public }] } }),
    );
    const https = await group.add('https', { tls: true, note: 'TLS 1.2+ only; certificate from the declared lab CA' }, (listen) =>
      startHttpsServer({
        ...listen,
        ...MODERN_TLS,
        key: leaf.key,
        cert: leaf.cert,
        title: 'Hub settings',
        credentials: [{ username: 'admin', password: uniquePassword() }],
        realm: 'hub',
        headers: { 'Strict-Transport-Security': 'max-age=31536000' },
      }),
    );
    const mqtts = await group.add('mqtts', { tls: true, note: 'MQTT over TLS; username and password required' }, (listen) =>
      startMqttServer({ ...listen, tls: { key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1.2' }, credentials: [mqttTest, mqttDevice], lockout: { afterFailures: 5, forMs: 60_000 } }),
    );

    return writeDeclaration(dir, hub.id, {
      device: { vendor: 'Lab Home', model: 'Hub-2', firmware: '4.0.1', serial: serialNumber('LABHUB') },
      credentials: { model: 'unique-per-device', test: [{ service: 'mqtt', ...mqttTest }] },
      trustAnchors: [`./${caFile}`],
      interfaces: [declare(ssh, 'maintenance shell, key-only'), declare(https, 'local web UI'), declare(mqtts, 'device telemetry and commands')],
      supportPeriod: { end: '2030-12-31', published: 'https://hub.lab.example/support' },
      vulnerabilityDisclosure: { url: 'https://hub.lab.example/security', contact: 'security@hub.lab.example' },
    });
  });
}
