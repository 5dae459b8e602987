import { randomBytes } from 'node:crypto';
import { declare, writeDeclaration } from '../declaration.js';
import type { DeviceContext, DeviceDefinition, RunningDevice } from '../device.js';
import { startMqttServer } from '../servers/mqtt.js';
import { startHttpServer, startHttpsServer } from '../servers/web.js';
import { issueFromLabCa, MODERN_TLS, serialNumber, startDevice, uniquePassword } from './common.js';

const MODEL = 'SP-10';

/** The plug's live state, retained so that an authorised subscriber sees it at once. */
function stateMessage(serial: string, firmware: string): { topic: string; payload: string } {
  return { topic: `plug/${serial}/state`, payload: JSON.stringify({ on: true, watts: 41.7, firmware }) };
}

/**
 * The smart plug. Its lesson: unique credentials are not enough. The weak build has a per-device
 * password on every login (no default to find) but sends it, and every command, in cleartext; the
 * hardened build moves the same logins onto TLS and locks accounts after repeated wrong passwords.
 */
export const plug: DeviceDefinition = {
  id: 'plug',
  kind: 'smart plug',
  defaultMode: 'weak',
  modes: {
    weak: {
      title: 'Smart plug (weak: unique passwords, but HTTP and MQTT in cleartext)',
      weaknesses: [
        'The web admin page takes its per-device password over plain-HTTP Basic auth: unique, but readable by anyone on the LAN (EN 303 645 5.5-1, 5.5-7).',
        'The MQTT broker requires a per-device username and password, but on plain TCP: the credentials and every on/off command travel in cleartext (5.5-1, 5.5-7).',
        'Neither login has brute-force protection: the declared test accounts take wrong passwords as fast as they come (5.1-5). Realistic for a cheap plug, whose unique password is its only defence.',
        'It declares a support period and a disclosure policy and has unique passwords: everything UK PSTI asks for, which is why it shows what PSTI leaves out (cleartext, brute force).',
      ],
    },
    hardened: {
      title: 'Smart plug (hardened: HTTPS and MQTTS, lockout, declared support)',
      weaknesses: [
        'None intended. Residual: the certificates chain to a private lab CA, so they validate only for a client given the declared trust anchor.',
        'Residual: the lockouts are per account (5 wrong passwords lock it for 60 s), so someone on the LAN who knows an account name can keep its owner locked out.',
        'Residual: no firmware update channel is declared, so the update provisions (5.3-x) are left to an assessor.',
      ],
    },
  },

  start(context): Promise<RunningDevice> {
    return context.mode === 'weak' ? startWeak(context) : startHardened(context);
  },
};

function startWeak(context: DeviceContext): Promise<RunningDevice> {
  const { dir } = context;
  return startDevice(plug, context, async (group) => {
    const serial = serialNumber('LABPLG');
    // The password printed on the plug's label: unique, so in no default list.
    const admin = { username: 'admin', password: uniquePassword() };
    const cloud = { username: `plug-${serial.slice(-6).toLowerCase()}`, password: uniquePassword() };
    const webTester = { username: 'lab-tester', password: uniquePassword() };
    const mqttTester = { username: 'lab-tester', password: uniquePassword() };

    const http = await group.add('http', { tls: false, note: 'unique admin password, but Basic auth over plain HTTP' }, (listen) =>
      startHttpServer({ ...listen, title: 'SP-10 Smart Plug', credentials: [admin, webTester], realm: 'SP-10' }),
    );
    const mqtt = await group.add('mqtt', { tls: false, note: 'unique username and password, but plain TCP' }, (listen) =>
      startMqttServer({ ...listen, credentials: [cloud, mqttTester], retained: [stateMessage(serial, '1.4.2')] }),
    );

    return writeDeclaration(dir, plug.id, {
      device: { vendor: 'Lab Home', model: MODEL, firmware: '1.4.2', serial },
      credentials: {
        model: 'unique-per-device',
        test: [
          { service: 'http', ...webTester },
          { service: 'mqtt', ...mqttTester },
        ],
      },
      interfaces: [declare(http, 'local web admin'), declare(mqtt, 'switching commands and power telemetry')],
      // On paper the plug is ready for the UK market (PSTI asks for exactly these three things); the
      // workshop's scheme exercise shows what that paperwork does not cover.
      supportPeriod: { end: '2029-12-31', published: 'https://plug.lab.example/support' },
      vulnerabilityDisclosure: { url: 'https://plug.lab.example/security', contact: 'security@plug.lab.example' },
    });
  });
}

function startHardened(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(plug, context, async (group) => {
    const serial = serialNumber('LABPLG');
    const { leaf, caFile } = await issueFromLabCa(dir, plug.id, address, 'iot-harness lab CA (plug)');

    // A per-device admin name as well as a per-device password: see the router's.
    const admin = { username: `admin-${randomBytes(2).toString('hex')}`, password: uniquePassword() };
    const cloud = { username: `plug-${serial.slice(-6).toLowerCase()}`, password: uniquePassword() };
    const webTester = { username: 'lab-tester', password: uniquePassword() };
    const mqttTester = { username: 'lab-tester', password: uniquePassword() };
    const lockout = { afterFailures: 5, forMs: 60_000 };

    const https = await group.add('https', { tls: true, note: 'TLS 1.2+; lab-CA certificate; lockout after 5 wrong passwords' }, (listen) =>
      startHttpsServer({
        ...listen,
        ...MODERN_TLS,
        key: leaf.key,
        cert: leaf.cert,
        title: 'SP-10 Smart Plug',
        credentials: [admin, webTester],
        realm: 'SP-10',
        headers: { 'Strict-Transport-Security': 'max-age=31536000' },
        lockout,
      }),
    );
    const mqtts = await group.add('mqtts', { tls: true, note: 'MQTT over TLS 1.2+; username and password; lockout after 5 wrong passwords' }, (listen) =>
      startMqttServer({ ...listen, tls: { key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1.2' }, credentials: [cloud, mqttTester], retained: [stateMessage(serial, '2.0.0')], lockout }),
    );

    return writeDeclaration(dir, plug.id, {
      device: { vendor: 'Lab Home', model: MODEL, firmware: '2.0.0', serial },
      credentials: {
        model: 'unique-per-device',
        test: [
          { service: 'https', ...webTester },
          { service: 'mqtts', ...mqttTester },
        ],
      },
      trustAnchors: [`./${caFile}`],
      interfaces: [declare(https, 'local web admin'), declare(mqtts, 'switching commands and power telemetry')],
      supportPeriod: { end: '2030-12-31', published: 'https://plug.lab.example/support' },
      vulnerabilityDisclosure: { url: 'https://plug.lab.example/security', contact: 'security@plug.lab.example' },
    });
  });
}
