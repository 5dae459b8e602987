import coapAccess from './coap-access.js';
import ftpLogin from './ftp-login.js';
import httpLogin from './http-login.js';
import mqttAccess from './mqtt-access.js';
import mqttLogin from './mqtt-login.js';
import rtspLogin from './rtsp-login.js';
import sshLogin from './ssh-login.js';
import telnetLogin from './telnet-login.js';
import tls from './tls.js';
import updateEndpoint from './update-endpoint.js';
import type { Probe } from './types.js';

/**
 * Every probe, in the order they run on a service. A probe module exports its `Probe` as default and
 * is listed here once; `iot-harness probes` and the docs check read this list without touching the network.
 */
export const PROBES: readonly Probe[] = [tls, telnetLogin, sshLogin, httpLogin, mqttLogin, mqttAccess, rtspLogin, ftpLogin, coapAccess, updateEndpoint];

export function probesFor(protocol: string, probes: readonly Probe[] = PROBES): Probe[] {
  return probes.filter((p) => p.meta.protocols.includes(protocol));
}
