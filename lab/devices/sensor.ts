import { randomBytes } from 'node:crypto';
import { declare, writeDeclaration, type Declaration } from '../declaration.js';
import type { DeviceContext, DeviceDefinition, RunningDevice, ServiceGroup } from '../device.js';
import { createCoapHandler, startCoapServer } from '../servers/coap.js';
import { startDtlsServer } from '../servers/dtls.js';
import { serialNumber, startDevice } from './common.js';

const MODEL = 'TH-10';

/**
 * A PSK made for this run: 16 random bytes written as 32 hex characters. The declaration carries the
 * string, and the key both sides hash is the string's bytes, which is how the harness probe and
 * libcoap's `coap-client -k` read a declared key.
 */
function uniquePsk(serial: string): { identity: string; key: string } {
  return { identity: `sensor-${serial.slice(-6).toLowerCase()}`, key: randomBytes(16).toString('hex') };
}

/**
 * The environment sensor: temperature and humidity over CoAP. Its lesson: a secure channel next to
 * an open one protects nothing. The weak build answers plain CoAP (NoSec) to anyone, configuration
 * writes included, beside a DTLS-PSK port; the hardened build speaks CoAP only inside DTLS, with a
 * unique key.
 */
export const sensor: DeviceDefinition = {
  id: 'sensor',
  kind: 'sensor',
  defaultMode: 'weak',
  modes: {
    weak: {
      title: 'Environment sensor (weak: CoAP NoSec beside DTLS-PSK, writable without credentials)',
      weaknesses: [
        'CoAP NoSec on 5683: readings and configuration travel in cleartext, unauthenticated (EN 303 645 5.5-1).',
        'Any client can read every resource, change /config and create (and delete) resources of its own, with no credentials (5.5-4, 5.5-5).',
        '/.well-known/core lists every resource to anyone, and answers a spoofed discovery request with several times its size (5.6-2).',
        'The DTLS-PSK port protects nothing: every resource it guards is open on the NoSec port next to it (5.5-1, 5.5-4).',
        'No vulnerability disclosure policy and no support period are declared (5.2-1, 5.3-13).',
      ],
    },
    hardened: {
      title: 'Environment sensor (hardened: CoAP over DTLS-PSK only, unique key)',
      weaknesses: [
        'None intended. Residual: PSK is the only DTLS mode (no certificates, no raw public keys), so the key is provisioned out of band and anyone holding it has full access, /config writes included.',
        'Residual: wrong keys are answered at once with a fatal alert and there is no handshake rate limit beyond 64 sessions at a time; the 128-bit key, not a lockout, is what stops guessing (5.1-5).',
      ],
    },
  },

  start(context): Promise<RunningDevice> {
    return startSensor(context);
  },
};

function startSensor(context: DeviceContext): Promise<RunningDevice> {
  return startDevice(sensor, context, async (group) => {
    const serial = serialNumber('LABSNS');
    const psk = uniquePsk(serial);
    return writeDeclaration(context.dir, sensor.id, await (context.mode === 'weak' ? weakServices : hardenedServices)(group, serial, psk));
  });
}

type Build = (group: ServiceGroup, serial: string, psk: { identity: string; key: string }) => Promise<Declaration>;

function device(serial: string, firmware: string): Declaration['device'] {
  return { vendor: 'Lab Sensors', model: MODEL, firmware, serial };
}

/** NoSec and DTLS-PSK side by side, over one set of resources: what is written on one is read on the other. */
const weakServices: Build = async (group, serial, psk) => {
  const resources = createCoapHandler({ writable: true, config: { interval: 60, unit: 'C', upload: 'coap://cloud.sensor.lab.example/ingest' } });
  const coap = await group.add('coap', { tls: false, note: 'NoSec: anonymous reads, /config writes and resource creation' }, (listen) =>
    startCoapServer({ ...listen, handler: resources }),
  );
  // libcoap's default identity hint, as a device built on it would send.
  const coaps = await group.add('coaps', { tls: true, note: 'DTLS 1.2 PSK (CCM_8, GCM); the declared per-run key' }, (listen) =>
    startDtlsServer({ ...listen, psks: [{ identity: psk.identity, key: Buffer.from(psk.key, 'utf8') }], hint: 'CoAP', application: resources }),
  );
  return {
    device: device(serial, '1.0.3'),
    credentials: { model: 'unique-per-device' },
    interfaces: [declare(coap, 'sensor readings and configuration (CoAP, no security)'), declare(coaps, 'sensor readings and configuration over DTLS-PSK')],
    coap: { psk },
  };
};

/** CoAP only inside DTLS; authenticated clients may change /config but create nothing. */
const hardenedServices: Build = async (group, serial, psk) => {
  const resources = createCoapHandler({ writable: true, maxCreated: 0 });
  const coaps = await group.add('coaps', { tls: true, note: 'DTLS 1.2 PSK only (CCM_8, GCM); unique per-run key; no NoSec listener' }, (listen) =>
    startDtlsServer({ ...listen, psks: [{ identity: psk.identity, key: Buffer.from(psk.key, 'utf8') }], application: resources }),
  );
  return {
    device: device(serial, '2.2.0'),
    credentials: { model: 'unique-per-device' },
    interfaces: [declare(coaps, 'sensor readings and configuration over DTLS-PSK')],
    coap: { psk },
    supportPeriod: { end: '2031-06-30', published: 'https://sensor.lab.example/support' },
    vulnerabilityDisclosure: { url: 'https://sensor.lab.example/security', contact: 'security@sensor.lab.example' },
  };
};
