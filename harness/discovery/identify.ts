import type { Socket } from 'node:net';
import { buildGet, parseCoap, answers } from '../../probes/wire/coap.js';
import { buildDtlsClientHello, parseDtlsAnswer } from '../../probes/wire/dtls.js';
import { buildConnect, connackComplete, connackMeaning, DISCONNECT, parseConnack } from '../../probes/wire/mqtt.js';
import { broadClientHello, parseServerAnswer, tlsRecordComplete, versionName } from '../../probes/wire/tls.js';
import type { Egress } from '../egress.js';
import type { EvidenceInput } from '../evidence.js';
import { readBounded, writeSafely, type BoundedRead } from '../io.js';

/** Waits for identification. Each wait is a deadline, each read a byte cap. */
export interface IdentifyTimings {
  connectMs: number;
  /** How long to wait for a server-first banner (SSH, telnet, FTP) before speaking first. */
  bannerMs: number;
  /** How long each client-first probe (TLS, HTTP, MQTT, RTSP, Redis) waits for an answer. */
  probeMs: number;
}

export const DEFAULT_TIMINGS: IdentifyTimings = { connectMs: 2000, bannerMs: 1000, probeMs: 1500 };

/** Bytes kept from any one answer while identifying. */
export const IDENTIFY_READ_CAP = 8192;

export interface Identification {
  protocol: string;
  tls: boolean;
  /** First line of what the service said, printable, at most 200 characters. */
  banner?: string;
  /** Which answer settled the protocol: `ssh-banner`, `tls-server-hello`, `http-response`, ... */
  identifiedBy?: string;
  /** Anything odd the service did: floods, resets, silence. */
  anomalies: string[];
  evidence: EvidenceInput[];
}

const IAC_COMMAND = /\xff[\xfb-\xfe]/;
const LOGIN_PROMPT = /(login|username|user name|user|password|passwd)\s*:\s*$/im;

export function printableLine(data: Buffer, max = 200): string {
  const text = data.toString('latin1').replace(/\xff[\xfb-\xfe]./gs, '').replace(/\xff./gs, '');
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '') ?? '';
  // eslint-disable-next-line no-control-regex -- control bytes are exactly what must not reach a report line
  return line.replace(/[\x00-\x1f\x7f-\xff]/g, '.').slice(0, max);
}

/** Classify bytes a service sent before we said anything. */
function classifyBanner(data: Buffer): { protocol: string; by: string } | undefined {
  const text = data.toString('latin1');
  // Telnet servers open with negotiation; IAC bytes somewhere inside random noise prove nothing.
  if (IAC_COMMAND.test(text.slice(0, 2))) return { protocol: 'telnet', by: 'telnet-negotiation' };
  // Line-based greetings must be whole lines: a "220 " that runs on for a megabyte is no FTP server.
  if (!text.includes('\n')) return LOGIN_PROMPT.test(text) ? { protocol: 'telnet', by: 'login-prompt' } : undefined;
  if (text.startsWith('SSH-')) return { protocol: 'ssh', by: 'ssh-banner' };
  if (/^220[ -]/.test(text)) return /smtp/i.test(text) ? { protocol: 'smtp', by: 'smtp-greeting' } : { protocol: 'ftp', by: 'ftp-greeting' };
  if (/^\+OK/.test(text)) return { protocol: 'pop3', by: 'pop3-greeting' };
  if (/^\* OK/.test(text)) return { protocol: 'imap', by: 'imap-greeting' };
  if (/^RFB \d{3}\.\d{3}\n/.test(text)) return { protocol: 'vnc', by: 'rfb-banner' };
  if (LOGIN_PROMPT.test(text)) return { protocol: 'telnet', by: 'login-prompt' };
  return undefined;
}

interface Exchange {
  read: BoundedRead;
  connected: boolean;
  connectCode?: string;
}

/** Connect, optionally send, read with caps; always closes the socket. */
async function exchange(net: Egress, ip: string, port: number, send: Buffer | undefined, until: ((d: Buffer) => boolean) | undefined, waitMs: number, t: IdentifyTimings, signal: AbortSignal): Promise<Exchange> {
  const conn = await net.connectTcp(ip, port, { timeoutMs: t.connectMs, signal });
  if (!conn.ok) return { read: { data: Buffer.alloc(0), end: conn.reason === 'aborted' ? 'aborted' : 'reset', dropped: 0, errorCode: conn.code }, connected: false, connectCode: conn.code };
  const socket: Socket = conn.socket;
  try {
    if (send) {
      const w = await writeSafely(socket, send);
      if (!w.ok) return { read: { data: Buffer.alloc(0), end: 'reset', dropped: 0, errorCode: w.errorCode ?? 'EPIPE' }, connected: true };
    }
    const options = { maxBytes: IDENTIFY_READ_CAP, timeoutMs: waitMs, signal, ...(until ? { until } : {}) };
    return { read: await readBounded(socket, options), connected: true };
  } finally {
    socket.destroy();
  }
}

function describeEnd(read: BoundedRead): string {
  switch (read.end) {
    case 'cap':
      return `sent more than ${IDENTIFY_READ_CAP} bytes; read stopped at the cap`;
    case 'timeout':
      return read.data.length ? 'stopped mid-message (timeout)' : 'no answer (timeout)';
    case 'reset':
      return `connection reset (${read.errorCode ?? 'error'})`;
    case 'closed':
      return read.data.length ? 'closed after answering' : 'closed without answering';
    default:
      return read.end;
  }
}

interface ClientProbe {
  name: string;
  payload: (ip: string) => Buffer;
  until: (d: Buffer) => boolean;
  judge: (d: Buffer) => { protocol: string; by: string; summary: string } | undefined;
}

const headersDone = (d: Buffer): boolean => d.includes('\r\n\r\n') || d.includes('\n\n');

/** What a text answer to an HTTP-style request says about the service. */
function judgeTextAnswer(d: Buffer): { protocol: string; by: string; summary: string } | undefined {
  const text = d.toString('latin1');
  if (/^HTTP\/\d/.test(text)) return { protocol: 'http', by: 'http-response', summary: printableLine(d) };
  if (/^RTSP\/\d/.test(text)) return { protocol: 'rtsp', by: 'rtsp-response', summary: printableLine(d) };
  if (/^[-+](ERR|NOAUTH|PONG|DENIED|WRONGPASS)/.test(text)) return { protocol: 'redis', by: 'redis-reply', summary: printableLine(d) };
  return undefined;
}

const CLIENT_PROBES: Record<string, ClientProbe> = {
  tls: {
    name: 'TLS ClientHello',
    payload: () => broadClientHello(),
    until: tlsRecordComplete,
    judge: (d) => {
      const answer = parseServerAnswer(d);
      if (answer.kind === 'server-hello') return { protocol: 'tls', by: 'tls-server-hello', summary: `ServerHello ${versionName(answer.version)}, suite 0x${answer.cipher.toString(16).padStart(4, '0')}` };
      if (answer.kind === 'alert') return { protocol: 'tls', by: 'tls-alert', summary: `TLS alert ${answer.description} (level ${answer.level}) in record ${versionName(answer.recordVersion)}` };
      // Plain-text servers often answer a TLS hello with their own error: that identifies them too.
      return judgeTextAnswer(d);
    },
  },
  http: {
    name: 'HTTP GET',
    payload: (ip) => Buffer.from(`GET / HTTP/1.0\r\nHost: ${ip.includes(':') ? `[${ip}]` : ip}\r\nUser-Agent: iot-harness\r\nAccept: */*\r\n\r\n`),
    until: headersDone,
    judge: judgeTextAnswer,
  },
  mqtt: {
    name: 'MQTT CONNECT',
    payload: () => buildConnect(`iot-harness-${process.pid}`),
    until: connackComplete,
    judge: (d) => {
      const ack = parseConnack(d);
      return ack ? { protocol: 'mqtt', by: 'mqtt-connack', summary: `CONNACK code ${ack.code} (${connackMeaning(ack.code)})` } : undefined;
    },
  },
  rtsp: {
    name: 'RTSP OPTIONS',
    payload: (ip) => Buffer.from(`OPTIONS rtsp://${ip}/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: iot-harness\r\n\r\n`),
    until: headersDone,
    judge: judgeTextAnswer,
  },
  redis: {
    name: 'Redis PING',
    payload: () => Buffer.from('*1\r\n$4\r\nPING\r\n'),
    until: (d) => d.includes('\r\n'),
    judge: judgeTextAnswer,
  },
};

/** Try first what the port usually carries: saves seconds on silent ports, decides nothing. */
function probeOrder(port: number): string[] {
  const first: Record<number, string> = { 1883: 'mqtt', 1884: 'mqtt', 8883: 'tls', 443: 'tls', 8443: 'tls', 554: 'rtsp', 8554: 'rtsp', 6379: 'redis', 80: 'http', 8080: 'http' };
  const order = ['tls', 'http', 'mqtt', 'rtsp', 'redis'];
  const hint = first[port];
  return hint ? [hint, ...order.filter((p) => p !== hint)] : order;
}

/**
 * What speaks on a TCP port, by what it says: a server-first banner, else the first client-first probe
 * that gets a recognisable answer. TLS ports are opened with Node's TLS client to see what runs inside
 * (HTTP → https, MQTT → mqtts). Nothing here throws on device behaviour; the worst a port can get is
 * `unknown` with its anomalies listed.
 */
export async function identifyTcp(net: Egress, ip: string, port: number, t: IdentifyTimings, signal: AbortSignal): Promise<Identification> {
  const result: Identification = { protocol: 'unknown', tls: false, anomalies: [], evidence: [] };
  const banner = await exchange(net, ip, port, undefined, (d) => d.includes(0x0a) || IAC_COMMAND.test(d.toString('latin1')) || LOGIN_PROMPT.test(d.toString('latin1')), t.bannerMs, t, signal);
  if (!banner.connected) {
    result.anomalies.push(`refused a second connection (${banner.connectCode ?? 'error'})`);
    return result;
  }
  const data = banner.read.data;
  if (data.length > 0) {
    const found = classifyBanner(data);
    const line = printableLine(data);
    result.evidence.push({ kind: 'banner', summary: `${found ? found.protocol : 'unrecognised'} banner: ${line || '(binary)'}${banner.read.end === 'cap' ? ' [capped]' : ''}`, port, transport: 'tcp', received: data, data: { end: banner.read.end, dropped: banner.read.dropped } });
    if (line) result.banner = line;
    if (banner.read.end === 'cap') result.anomalies.push(describeEnd(banner.read));
    if (found) {
      result.protocol = found.protocol;
      result.identifiedBy = found.by;
      return result;
    }
    // A service that talks first but says nothing we know: client-first probes would only talk over it.
    result.anomalies.push('sent an unrecognised banner unprompted');
    return result;
  }
  if (banner.read.end !== 'timeout') result.anomalies.push(`banner wait: ${describeEnd(banner.read)}`);

  for (const name of probeOrder(port)) {
    if (signal.aborted) break;
    const probe = CLIENT_PROBES[name] as ClientProbe;
    const payload = probe.payload(ip);
    const ex = await exchange(net, ip, port, payload, probe.until, t.probeMs, t, signal);
    const verdict = ex.read.data.length ? probe.judge(ex.read.data) : undefined;
    result.evidence.push({ kind: 'exchange', summary: `${probe.name}: ${verdict ? verdict.summary : describeEnd(ex.read)}`, port, transport: 'tcp', sent: payload, received: ex.read.data, data: { end: ex.read.end, dropped: ex.read.dropped } });
    if (ex.read.end === 'cap') result.anomalies.push(`${probe.name}: ${describeEnd(ex.read)}`);
    if (!verdict) continue;
    result.identifiedBy = verdict.by;
    if (verdict.protocol !== 'tls') {
      result.protocol = verdict.protocol;
      const line = printableLine(ex.read.data);
      if (line) result.banner = line;
      return result;
    }
    result.tls = true;
    result.protocol = 'tls';
    result.banner = verdict.summary;
    await identifyInsideTls(net, ip, port, t, signal, result);
    return result;
  }
  if (result.evidence.every((e) => (e.received?.length ?? 0) === 0)) result.anomalies.push('accepted connections but never answered');
  return result;
}

/** Open TLS the way an old device needs (any version, any cipher, no certificate check) and ask HTTP, then MQTT. */
async function identifyInsideTls(net: Egress, ip: string, port: number, t: IdentifyTimings, signal: AbortSignal, result: Identification): Promise<void> {
  const inner: [string, string, ClientProbe][] = [
    ['https', 'https-response', CLIENT_PROBES.http as ClientProbe],
    ['mqtts', 'mqtt-connack-over-tls', CLIENT_PROBES.mqtt as ClientProbe],
  ];
  for (const [protocol, by, probe] of inner) {
    if (signal.aborted) return;
    // OpenSSL 3 refuses TLS 1.0/1.1 below SECLEVEL=0: without it an old device's inner service stays unknown.
    const conn = await net.connectTls(ip, port, { rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, { timeoutMs: t.probeMs, signal });
    if (!conn.ok) {
      result.anomalies.push(`TLS handshake with Node's client failed (${conn.code}); inner protocol unknown`);
      return;
    }
    const payload = probe.payload(ip);
    const tlsVersion = conn.socket.getProtocol();
    const cipher = conn.socket.getCipher().name;
    let read: BoundedRead;
    try {
      await writeSafely(conn.socket, payload);
      read = await readBounded(conn.socket, { maxBytes: IDENTIFY_READ_CAP, timeoutMs: t.probeMs, until: probe.until, signal });
      if (protocol === 'mqtts' && parseConnack(read.data)?.code === 0) await writeSafely(conn.socket, DISCONNECT);
    } finally {
      conn.socket.destroy();
    }
    const verdict = read.data.length ? probe.judge(read.data) : undefined;
    const matches = verdict && (protocol === 'https' ? verdict.protocol === 'http' : verdict.protocol === 'mqtt');
    result.evidence.push({ kind: 'exchange', summary: `${probe.name} over TLS (${tlsVersion ?? '?'}): ${verdict ? verdict.summary : describeEnd(read)}`, port, transport: 'tcp', sent: payload, received: read.data, data: { end: read.end, tlsVersion, cipher } });
    if (matches) {
      result.protocol = protocol;
      result.identifiedBy = by;
      return;
    }
  }
}

/**
 * What answers on a UDP port: a CoAP GET /.well-known/core first, then a DTLS ClientHello. Silence is
 * no evidence of a service, so a silent port yields `undefined`; an answer we cannot parse is `unknown`.
 */
export async function identifyUdp(net: Egress, ip: string, port: number, t: IdentifyTimings, signal: AbortSignal): Promise<Identification | undefined> {
  const result: Identification = { protocol: 'unknown', tls: false, anomalies: [], evidence: [] };
  const request = buildGet('/.well-known/core');
  const coap = await net.udpExchange(ip, port, request.bytes, {
    timeoutMs: t.probeMs,
    maxDatagrams: 8,
    maxBytes: 64 * 1024,
    signal,
    accept: (d) => {
      const reply = parseCoap(d);
      return reply !== undefined && answers(request, reply);
    },
  });
  if (coap.end === 'refused') return undefined;
  const reply = coap.datagrams.map(parseCoap).find((r) => r !== undefined && answers(request, r));
  if (coap.datagrams.length > 0) {
    result.evidence.push({ kind: 'exchange', summary: `CoAP GET /.well-known/core: ${reply ? `${reply.type} ${reply.code}, ${reply.payload.length} payload bytes` : `${coap.datagrams.length} unrecognised datagram(s)`}`, port, transport: 'udp', sent: request.bytes, received: coap.datagrams[0] ?? Buffer.alloc(0), data: { datagrams: coap.datagrams.length, dropped: coap.dropped, end: coap.end } });
  }
  if (coap.end === 'cap') result.anomalies.push(`answered one datagram with more than ${coap.datagrams.length} datagrams; stopped listening`);
  if (reply) {
    result.protocol = 'coap';
    result.identifiedBy = 'coap-response';
    result.banner = `${reply.type} ${reply.code}`;
    return result;
  }
  if (coap.datagrams.length > 0) {
    result.banner = printableLine(coap.datagrams[0] as Buffer);
    result.anomalies.push('answered a CoAP request with something that is not CoAP');
    return result;
  }
  const hello = buildDtlsClientHello();
  const dtls = await net.udpExchange(ip, port, hello, { timeoutMs: t.probeMs, maxDatagrams: 8, maxBytes: 64 * 1024, signal, accept: (d) => parseDtlsAnswer(d).kind !== 'not-dtls' });
  if (dtls.datagrams.length === 0) return undefined;
  const answer = dtls.datagrams.map(parseDtlsAnswer).find((a) => a.kind !== 'not-dtls');
  result.evidence.push({ kind: 'exchange', summary: `DTLS ClientHello: ${answer ? answer.kind : 'unrecognised answer'}`, port, transport: 'udp', sent: hello, received: dtls.datagrams[0] ?? Buffer.alloc(0), data: { datagrams: dtls.datagrams.length, dropped: dtls.dropped, end: dtls.end } });
  if (dtls.end === 'cap') result.anomalies.push(`answered one datagram with more than ${dtls.datagrams.length} datagrams; stopped listening`);
  if (answer) {
    // The CoAP inside cannot be seen without the key; the CoAPS port number is the only hint left.
    result.protocol = port === 5684 ? 'coaps' : 'dtls';
    result.tls = true;
    result.identifiedBy = `dtls-${answer.kind}`;
    result.banner = `DTLS ${answer.kind} (record version 0x${answer.version.toString(16)})`;
    return result;
  }
  result.anomalies.push('answered a DTLS ClientHello with something that is not DTLS');
  return result;
}
