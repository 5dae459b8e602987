// Real CoAP peer: libcoap's example server (Debian 12: libcoap 4.3.1). coap-server-notls for plain CoAP;
// coap-server-openssl with a PSK for DTLS. Quirks seen on 4.3.1:
// - With -k, the server keeps plain CoAP on `port` and adds DTLS on `port + 1` (and CoAP over TCP/TLS on
//   the same numbers): a PSK server is not a DTLS-only server.
// - /example_data and /time accept PUT whatever the flags; -d N additionally lets a PUT create new resources.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { execa } from 'execa';
import { inTempDir, requireBinary, startDaemon, type Daemon } from './daemon.js';

export interface CoapOptions {
  host: string;
  /** UDP (and TCP) port for plain CoAP. With `psk`, port + 1 must be free too (DTLS). */
  port: number;
  /** Allow PUT to create up to this many new resources (`-d N`). */
  dynamicResources?: number;
  /** Run the OpenSSL build with DTLS-PSK (`-k key -h hint`). The identity is not checked. */
  psk?: { key: string; hint?: string };
  readyTimeoutMs?: number;
}

export interface CoapPeer extends Daemon {
  host: string;
  port: number;
  /** DTLS port (port + 1) when `psk` was given. */
  dtlsPort?: number;
}

/** A CoAP response: `code` in dotted form (`2.05`), and the payload bytes. */
export interface CoapResponse {
  code: string;
  payload: Buffer;
}

const URI_PATH = 11;

/** Encodes one option with delta/length under 13 (all this helper needs: short Uri-Path segments). */
function encodeOption(delta: number, value: Buffer): Buffer {
  if (delta > 12 || value.length > 12) throw new RangeError('option too long for the short CoAP encoder');
  return Buffer.concat([Buffer.from([(delta << 4) | value.length]), value]);
}

/** A confirmable GET for `path` with the given message id and a 4-byte token. */
export function buildCoapGet(path: string, messageId: number, token: Buffer): Buffer {
  const header = Buffer.from([0x40 | token.length, 0x01, (messageId >> 8) & 0xff, messageId & 0xff]);
  const options = path
    .split('/')
    .filter(Boolean)
    .map((segment, index) => encodeOption(index === 0 ? URI_PATH : 0, Buffer.from(segment)));
  return Buffer.concat([header, token, ...options]);
}

/** Parses a response header and payload; undefined when it is not for `messageId`/`token`. */
export function parseCoapResponse(datagram: Buffer, messageId: number, token: Buffer): CoapResponse | undefined {
  if (datagram.length < 4 || datagram[0] === undefined || datagram[1] === undefined) return undefined;
  const tokenLength = datagram[0] & 0x0f;
  if (datagram.readUInt16BE(2) !== messageId || !datagram.subarray(4, 4 + tokenLength).equals(token)) return undefined;
  const code = `${datagram[1] >> 5}.${String(datagram[1] & 0x1f).padStart(2, '0')}`;
  const marker = datagram.indexOf(0xff, 4 + tokenLength);
  return { code, payload: marker === -1 ? Buffer.alloc(0) : datagram.subarray(marker + 1) };
}

/** Sends one CoAP GET over UDP; resolves with the response or undefined after `timeoutMs`. */
export function coapGet(host: string, port: number, path: string, timeoutMs = 500): Promise<CoapResponse | undefined> {
  const messageId = randomBytes(2).readUInt16BE(0);
  const token = randomBytes(4);
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    function finish(response: CoapResponse | undefined): void {
      clearTimeout(timer);
      socket.close();
      resolve(response);
    }
    // ICMP port unreachable surfaces as an error on a connected UDP socket: the server is not up yet.
    socket.once('error', () => finish(undefined));
    socket.on('message', (datagram) => {
      const response = parseCoapResponse(datagram, messageId, token);
      if (response) finish(response);
    });
    socket.connect(port, host, () => socket.send(buildCoapGet(path, messageId, token)));
  });
}

export async function startCoapServer(options: CoapOptions): Promise<CoapPeer> {
  const { host, port, psk } = options;
  const file = psk ? requireBinary('coap-server-openssl', 'libcoap3-bin') : requireBinary('coap-server-notls', 'libcoap3-bin');

  return inTempDir('coap', async (dir) => {
    const args = ['-A', host, '-p', String(port)];
    if (options.dynamicResources !== undefined) args.push('-d', String(options.dynamicResources));
    // The hint defaults to "CoAP" in libcoap; set it so tests know what a client will be offered.
    if (psk) args.push('-k', psk.key, '-h', psk.hint ?? 'CoAP');

    const daemon = await startDaemon({
      name: psk ? 'coap-server-openssl' : 'coap-server-notls',
      file,
      args,
      dir,
      // libcoap binds UDP and TCP on each port it serves.
      ports: (psk ? [port, port + 1] : [port]).map((p) => ({ host, port: p, transport: 'both' as const })),
      // A real request, not a bind check: UDP has no handshake to tell "listening" from "up".
      isReady: async () => (await coapGet(host, port, '/.well-known/core'))?.code === '2.05',
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return { ...daemon, host, port, dtlsPort: psk ? port + 1 : undefined };
  });
}

export interface CoapClientRequest {
  host: string;
  port: number;
  path: string;
  method?: 'get' | 'put' | 'post' | 'delete';
  /** Use coap-client-openssl over DTLS (`coaps://`) with this identity and key. */
  psk?: { identity: string; key: string };
  /** Seconds libcoap waits for the answer (`-B`). */
  waitSeconds?: number;
}

/**
 * libcoap's own client, for agreement: what `coap-client-notls -m get coap://H:P/path` (or the OpenSSL
 * build with `-u identity -k key` over coaps) prints. libcoap prints the payload only, without a newline.
 */
export async function coapClient(request: CoapClientRequest): Promise<{ stdout: string; exitCode: number }> {
  const { host, port, path, psk } = request;
  const file = psk ? requireBinary('coap-client-openssl', 'libcoap3-bin') : requireBinary('coap-client-notls', 'libcoap3-bin');
  const wait = request.waitSeconds ?? 3;
  const args = ['-B', String(wait), '-m', request.method ?? 'get', ...(psk ? ['-u', psk.identity, '-k', psk.key] : []), `${psk ? 'coaps' : 'coap'}://${host}:${port}${path}`];
  const result = await execa(file, args, { reject: false, timeout: (wait + 5) * 1000 });
  return { stdout: result.stdout, exitCode: result.exitCode ?? -1 };
}
