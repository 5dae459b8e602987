import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { readBounded, writeSafely } from '../harness/io.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { type Credential, resolveCredentials } from './lib/credentials.js';
import { defineProbe, type ProbeContext } from './types.js';
import { buildConnect, connackMeaning, DISCONNECT, mqttString, remainingLength } from './wire/mqtt.js';

const MqttLoginOptions = CredentialOptions.extend({
  protocolVersion: z
    .union([z.literal(4), z.literal(5)])
    .default(4)
    .describe('MQTT protocol level of the CONNECT: 4 is MQTT 3.1.1 (every broker answers it, MQTT 5 brokers included), 5 is MQTT 5'),
});

type Settings = z.output<typeof MqttLoginOptions>;

/** A CONNACK is a few bytes; MQTT 5 adds properties (a reason string at most). Anything beyond is not a CONNACK. */
const CONNACK_CAP = 4096;

/** CONNACK codes that mean "these credentials are wrong" (3.1.1: 4, 5; MQTT 5: 134, 135). */
const REJECTED = new Set([4, 5, 134, 135]);
/**
 * MQTT 5 codes by which a broker says it is holding this client off: banned (138), quota exceeded
 * (151), connection rate exceeded (159). Going on would push a throttling device further: a lockout.
 */
const LOCKED = new Set([138, 151, 159]);

function buildConnect5(clientId: string, auth?: { username: string; password: string }): Buffer {
  const flags = 0x02 | (auth ? 0xc0 : 0);
  const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([5, flags, 0, 10, 0])]);
  const body = Buffer.concat([variable, mqttString(clientId), ...(auth ? [mqttString(auth.username), mqttString(auth.password)] : [])]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** MQTT 5 CONNACK reason codes beyond those discovery names (probes/wire/mqtt.ts). */
const MEANINGS: Record<number, string> = {
  133: 'client identifier not valid',
  136: 'server unavailable',
  137: 'server busy',
  138: 'banned',
  140: 'bad authentication method',
  151: 'quota exceeded',
  159: 'connection rate exceeded',
};

function meaning(code: number): string {
  return MEANINGS[code] ?? connackMeaning(code);
}

/** DISCONNECT in MQTT 5 carries a reason code (0: normal). */
const DISCONNECT5 = Buffer.from([0xe0, 0x01, 0x00]);

/** A CONNACK's fixed header: where its body starts and how long it is; undefined while short or not a CONNACK. */
function connackHeader(data: Buffer): { body: number; length: number } | undefined {
  if (data[0] !== 0x20) return undefined;
  let length = 0;
  for (let i = 1; i < Math.min(data.length, 5); i++) {
    const byte = data[i] ?? 0;
    length += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) return { body: i + 1, length };
  }
  return undefined;
}

function isConnackComplete(data: Buffer): boolean {
  const h = connackHeader(data);
  return h !== undefined && data.length >= h.body + h.length;
}

/** `{ code }` of a complete CONNACK at the start of `data` (3.1.1 return code or MQTT 5 reason code). */
function parseConnack(data: Buffer): { code: number } | undefined {
  const h = connackHeader(data);
  if (!h || h.length < 2 || data.length < h.body + h.length) return undefined;
  const flags = data[h.body] ?? 0xff;
  const code = data[h.body + 1];
  if ((flags & 0xfe) !== 0 || code === undefined) return undefined;
  return { code };
}

/** Whether a read can stop: a whole CONNACK, or bytes that cannot become one. */
function isAnswer(data: Buffer): boolean {
  return isConnackComplete(data) || (data.length > 0 && data[0] !== 0x20);
}

type Exchange =
  /** The broker answered with a CONNACK. */
  | { kind: 'connack'; code: number; sent: Buffer; received: Buffer }
  /** Refused, reset, closed, timed out, not MQTT, or a TLS failure. */
  | { kind: 'none'; detail: string; sent?: Buffer; received?: Buffer };

/** One CONNECT on a fresh connection (TLS for mqtts), and the broker's answer; leaves after a CONNACK 0. */
async function connect(ctx: ProbeContext<Settings>, auth: { username: string; password: string } | undefined, signal: AbortSignal): Promise<Exchange> {
  const { options, service, target } = ctx;
  const started = performance.now();
  const isTls = service.tls || service.protocol === 'mqtts';
  // The TLS probe judges certificates and versions; here any TLS the device speaks must do.
  const conn = isTls
    ? await ctx.net.connectTls(target.ip, service.port, { rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, { timeoutMs: options.timeoutMs, signal })
    : await ctx.net.connectTcp(target.ip, service.port, { timeoutMs: options.timeoutMs, signal });
  if (!conn.ok) return { kind: 'none', detail: `${conn.reason}: ${conn.message}` };
  const socket: Socket = conn.socket;
  try {
    const clientId = `iot-harness-${randomBytes(4).toString('hex')}`;
    const sent = options.protocolVersion === 5 ? buildConnect5(clientId, auth) : buildConnect(clientId, auth);
    const written = await writeSafely(socket, sent);
    if (!written.ok) return { kind: 'none', detail: `write failed: ${written.errorCode ?? 'error'}`, sent };
    const left = Math.max(1, options.timeoutMs - (performance.now() - started));
    const read = await readBounded(socket, { maxBytes: CONNACK_CAP, timeoutMs: left, until: isAnswer, signal });
    const connack = parseConnack(read.data);
    if (!connack) {
      const how = read.data.length > 0 ? 'an answer that is not a CONNACK' : read.end === 'timeout' ? 'no CONNACK before the deadline' : `connection ${read.end} without a CONNACK`;
      return { kind: 'none', detail: `${how}${read.errorCode ? ` (${read.errorCode})` : ''}`, sent, received: read.data };
    }
    if (connack.code === 0) await writeSafely(socket, options.protocolVersion === 5 ? DISCONNECT5 : DISCONNECT);
    return { kind: 'connack', code: connack.code, sent, received: read.data };
  } finally {
    socket.end();
    socket.destroy();
  }
}

function evidenceOf(ctx: ProbeContext<Settings>, who: string, ex: Exchange): EvidenceInput {
  const level = ctx.options.protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  const where = `${ctx.service.protocol} on tcp/${ctx.service.port}`;
  const answer = ex.kind === 'connack' ? `CONNACK ${ex.code} (${meaning(ex.code)})` : ex.detail;
  return {
    kind: 'exchange',
    summary: `${where}: ${level} CONNECT ${who}: ${answer}`,
    port: ctx.service.port,
    transport: 'tcp',
    ...(ex.sent ? { sent: ex.sent } : {}),
    ...(ex.received ? { received: ex.received } : {}),
    data: { protocolVersion: ctx.options.protocolVersion, tls: ctx.service.tls || ctx.service.protocol === 'mqtts', ...(ex.kind === 'connack' ? { code: ex.code, meaning: meaning(ex.code) } : { detail: ex.detail }) },
  };
}

function judge(ex: Exchange, evidence: EvidenceInput): AttemptResult {
  if (ex.kind === 'none') return { outcome: 'unavailable', detail: ex.detail, evidence };
  if (ex.code === 0) return { outcome: 'accepted', evidence };
  if (REJECTED.has(ex.code)) return { outcome: 'rejected', evidence };
  if (LOCKED.has(ex.code)) return { outcome: 'locked', detail: `CONNACK ${ex.code} (${meaning(ex.code)})`, evidence };
  // 3/136 server unavailable, 137 busy, protocol-level refusals: the broker could not judge the credentials.
  return { outcome: 'unavailable', detail: `CONNACK ${ex.code} (${meaning(ex.code)})`, evidence };
}

/** Pairs documented for MQTT serve MQTT over TLS too: a list entry limited to `mqtt` is tried on mqtts. */
export default defineProbe({
  meta: {
    id: 'mqtt-login',
    title: 'MQTT default credentials',
    description:
      'Connects once without credentials (a broker that accepts that needs no password test), then tries the default credential lists as CONNECT username/password, one connection per attempt, and notes when credentials cross a listener without TLS.',
    protocols: ['mqtt', 'mqtts'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: MqttLoginOptions,
  },
  async run(ctx) {
    const { options, service } = ctx;
    const port = service.port;
    const protocol = service.protocol;
    const deadline = (): AbortSignal => AbortSignal.any([ctx.signal, AbortSignal.timeout(options.timeoutMs)]);

    // 1. Anonymous CONNECT: a broker that lets anyone in makes every password irrelevant.
    const release = await ctx.net.acquireLoginSlot(ctx.target.ip);
    let anonymous: Exchange;
    try {
      anonymous = await connect(ctx, undefined, deadline());
    } finally {
      release();
    }
    const anonymousEv = ctx.record(evidenceOf(ctx, 'without username or password', anonymous));
    if (anonymous.kind === 'connack' && anonymous.code === 0) {
      ctx.observe('auth.none', { protocol, port }, [anonymousEv]);
      ctx.observe(
        'credentials.tested',
        { protocol, port, lists: options.credentials, candidates: 0, attempted: 0, accepted: 0, rejected: 0, stoppedBecause: 'anonymous-accepted', skippedDeclaredTestAccounts: 0, delayMs: options.delayMs },
        [anonymousEv],
      );
      return;
    }

    // 2. Credentials, one connection each (a broker closes the connection after a refused CONNECT).
    let firstAnswered: Exchange | undefined;
    const attempt = async (credential: Credential, signal: AbortSignal): Promise<AttemptResult> => {
      const ex = await connect(ctx, { username: credential.username, password: credential.password }, signal);
      if (ex.kind === 'connack') firstAnswered ??= ex;
      return judge(ex, evidenceOf(ctx, `as ${JSON.stringify(credential.username)}`, ex));
    };
    await tryCredentials(ctx, protocol, attempt, resolveCredentials(options.credentials, ['mqtt', protocol]));

    // 3. The broker read a username and password off a plain TCP listener.
    if (firstAnswered?.kind === 'connack' && protocol === 'mqtt' && !service.tls) {
      ctx.observe('cleartext.auth', { protocol, port }, [
        {
          kind: 'exchange',
          summary: `mqtt on tcp/${port}: username and password sent without TLS, and the broker judged them (CONNACK ${firstAnswered.code})`,
          port,
          transport: 'tcp',
          sent: firstAnswered.sent,
          received: firstAnswered.received,
        },
      ]);
    }

    // 4. The brute-force trial against the declared test account, when there is one.
    await runBruteForceTrial(ctx, protocol, attempt);
  },
});
