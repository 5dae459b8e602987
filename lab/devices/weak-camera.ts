import { createSelfSigned } from '../certs.js';
import { declare, writeDeclaration } from '../declaration.js';
import { ServiceGroup, type DeviceDefinition, type RunningDevice } from '../device.js';
import { startMqttServer } from '../servers/mqtt.js';
import { startRtspServer } from '../servers/rtsp.js';
import { startTelnetServer } from '../servers/telnet.js';
import { startHttpServer, startHttpsServer, type WebAppOptions } from '../servers/web.js';

const SERIAL = 'LABCAM-0001';

/**
 * The weak camera: a 2016-era busybox IP camera as Mirai found them. Every service is real and
 * answers like the device would; the declaration lists only the web UI, so everything else is
 * "undeclared" (EN 303 645 5.6-1).
 */
export const weakCamera: DeviceDefinition = {
  id: 'weak-camera',
  title: 'Weak IP camera (busybox firmware, factory defaults)',
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

  async start(context): Promise<RunningDevice> {
    const { address } = context;
    const group = new ServiceGroup(context);
    try {
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
        startHttpsServer({
          ...listen,
          ...web,
          key,
          cert,
          // OpenSSL 3 refuses TLS 1.0 below SECLEVEL=0: without it this camera would look conformant.
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.2',
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
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

      const declarationPath = await writeDeclaration(context.dir, weakCamera.id, {
        device: { vendor: 'Lab Cams', model: 'IPC-100', firmware: '2.1.0', serial: SERIAL },
        credentials: { model: 'user-defined' },
        interfaces: [declare(http, 'local web admin'), declare(https, 'local web admin over TLS')],
      });

      return {
        id: weakCamera.id,
        title: weakCamera.title,
        address,
        services: group.services,
        weaknesses: [...weakCamera.weaknesses],
        declarationPath,
        stop: () => group.close(),
      };
    } catch (error) {
      await group.close();
      throw error;
    }
  },
};
