import { createSelfSigned } from '../certs.js';
import { declare, writeDeclaration } from '../declaration.js';
import type { DeviceContext, DeviceDefinition, RunningDevice } from '../device.js';
import { startMqttServer } from '../servers/mqtt.js';
import { startRtspServer } from '../servers/rtsp.js';
import { startTelnetServer } from '../servers/telnet.js';
import { startHttpServer, startHttpsServer, type WebAppOptions } from '../servers/web.js';
import { issueFromLabCa, LEGACY_TLS, MODERN_TLS, startDevice, uniquePassword } from './common.js';

const SERIAL = 'LABCAM-0001';

/**
 * The IP camera. Weak: a 2016-era busybox camera as Mirai found them. Every service is real and
 * answers like the device would; the declaration lists only the web UI, so everything else is
 * "undeclared" (EN 303 645 5.6-1). Hardened: the same unit after a firmware that fixes each of
 * those points, so that running the harness on one and then the other shows the verdicts flip.
 */
export const camera: DeviceDefinition = {
  id: 'camera',
  kind: 'IP camera',
  defaultMode: 'weak',
  modes: {
    weak: {
      title: 'IP camera (weak: busybox firmware, factory defaults)',
      weaknesses: [
        'Telnet is open and accepts the Mirai factory logins root/xc3511 and admin/admin (EN 303 645 5.1-1).',
        'Telnet, RTSP and MQTT are not in the declaration: undeclared services (5.6-1).',
        'The HTTP admin page takes Basic auth admin/admin, in cleartext over plain HTTP (5.1-1, 5.5-1).',
        'The HTTPS web UI accepts TLS 1.0 and TLS 1.1 (5.5-1) and presents a self-signed certificate (no trust anchor declared).',
        'The MQTT broker accepts anonymous clients, and its retained config topic leaks the Wi-Fi passphrase (5.5-1, 5.8-2).',
        'RTSP DESCRIBE takes Basic auth admin/12345 in cleartext (5.1-1, 5.5-1).',
        'The declaration claims user-defined passwords, which the default logins contradict.',
        'No vulnerability disclosure policy and no support period are declared (5.2-1, 5.3-13).',
      ],
    },
    hardened: {
      title: 'IP camera (hardened: TLS 1.2+, per-device passwords, no telnet or RTSP)',
      weaknesses: [
        'None intended. Residual: the HTTPS and MQTTS certificate chains to a private lab CA, so it validates only for a client given the declared trust anchor.',
        'Residual: the HTTPS admin login has no lockout or delay; only MQTTS has a declared test account, so the brute-force trial (5.1-5) measures MQTTS alone.',
        'Residual: there is no RTSP: the live view belongs to the HTTPS web app, so players that only speak RTSP cannot show the stream.',
        'Residual: no plain-HTTP listener redirects to HTTPS; a browser pointed at http:// gets no answer.',
      ],
    },
  },

  start(context): Promise<RunningDevice> {
    return context.mode === 'weak' ? startWeak(context) : startHardened(context);
  },
};

/**
 * What the weak camera should have been: only TLS services, each declared; passwords made per unit
 * (per run, in the lab); the MQTTS broker refuses anonymous clients and locks an account after 5
 * wrong passwords. RTSP is gone rather than kept in cleartext: even with Digest, RTSP carries the
 * stream and its session without TLS, which fails EN 303 645 5.5-1 (best-practice cryptography), so
 * the live view belongs to the HTTPS web app (the lab serves its admin page only, no video).
 */
function startHardened(context: DeviceContext): Promise<RunningDevice> {
  const { address, dir } = context;
  return startDevice(camera, context, async (group) => {
    const { leaf, caFile } = await issueFromLabCa(dir, camera.id, address, 'iot-harness lab CA (hardened-camera)');
    const mqttTest = { username: 'lab-tester', password: uniquePassword() };
    const mqttDevice = { username: 'ipcam', password: uniquePassword() };

    const https = await group.add('https', { tls: true, note: 'TLS 1.2+ only; lab CA certificate; the live view lives here, not on RTSP' }, (listen) =>
      startHttpsServer({
        ...listen,
        ...MODERN_TLS,
        key: leaf.key,
        cert: leaf.cert,
        title: 'IPCam Web Admin',
        credentials: [{ username: 'admin', password: uniquePassword() }],
        realm: 'IPCam',
        headers: { 'Strict-Transport-Security': 'max-age=31536000' },
      }),
    );
    const mqtts = await group.add('mqtts', { tls: true, note: 'MQTT over TLS; username and password required; lockout' }, (listen) =>
      startMqttServer({
        ...listen,
        tls: { key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1.2' },
        credentials: [mqttTest, mqttDevice],
        lockout: { afterFailures: 5, forMs: 60_000 },
        // Status only: the Wi-Fi settings the weak firmware published stay on the device.
        retained: [{ topic: `ipcam/${SERIAL}/status`, payload: JSON.stringify({ online: true, firmware: '3.0.0', motion: false }) }],
      }),
    );

    return writeDeclaration(dir, camera.id, {
      device: { vendor: 'Lab Cams', model: 'IPC-100', firmware: '3.0.0', serial: SERIAL },
      credentials: { model: 'unique-per-device', test: [{ service: 'mqtt', ...mqttTest }] },
      trustAnchors: [`./${caFile}`],
      interfaces: [declare(https, 'local web admin and live view over TLS (no RTSP)'), declare(mqtts, 'camera events and settings over TLS')],
      supportPeriod: { end: '2031-06-30', published: 'https://cam.lab.example/support' },
      vulnerabilityDisclosure: { url: 'https://cam.lab.example/security', contact: 'security@cam.lab.example' },
    });
  });
}

function startWeak(context: DeviceContext): Promise<RunningDevice> {
  const { address } = context;
  return startDevice(camera, context, async (group) => {
    const web: WebAppOptions = {
      title: 'IPCam Web Admin',
      credentials: [{ username: 'admin', password: 'admin' }],
      realm: 'IPCam',
      serverHeader: 'uc-httpd 1.0.0',
    };
    // A certificate the camera made for itself on first boot; nobody can validate it.
    const { key, cert } = await createSelfSigned({ ipAddresses: [address], commonName: address });

    const http = await group.add('http', { tls: false, note: 'admin/admin over Basic auth, cleartext' }, (listen) =>
      startHttpServer({ ...listen, ...web }),
    );
    const https = await group.add('https', { tls: true, note: 'TLS 1.0 accepted; self-signed certificate' }, (listen) =>
      startHttpsServer({ ...listen, ...web, ...LEGACY_TLS, key, cert }),
    );
    await group.add('telnet', { tls: false, note: 'undeclared; Mirai default root/xc3511' }, (listen) =>
      startTelnetServer({
        ...listen,
        hostname: 'IPCam',
        credentials: [
          { username: 'root', password: 'xc3511' },
          { username: 'admin', password: 'admin' },
        ],
      }),
    );
    await group.add('rtsp', { tls: false, note: 'undeclared; DESCRIBE behind Basic admin/12345' }, (listen) =>
      startRtspServer({ ...listen, credentials: [{ username: 'admin', password: '12345' }], realm: 'IPCam' }),
    );
    await group.add('mqtt', { tls: false, note: 'undeclared; anonymous clients accepted' }, (listen) =>
      startMqttServer({
        ...listen,
        retained: [
          { topic: `ipcam/${SERIAL}/status`, payload: JSON.stringify({ online: true, firmware: '2.1.0', motion: false }) },
          { topic: `ipcam/${SERIAL}/config`, payload: JSON.stringify({ wifi: { ssid: 'HomeNet', psk: 'sunshine2016' }, cloud: 'p2p.ipcam.example' }) },
        ],
      }),
    );

    return writeDeclaration(context.dir, camera.id, {
      device: { vendor: 'Lab Cams', model: 'IPC-100', firmware: '2.1.0', serial: SERIAL },
      credentials: { model: 'user-defined' },
      interfaces: [declare(http, 'local web admin'), declare(https, 'local web admin over TLS')],
    });
  });
}
