import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { MqttClient, type Packet, ReasonCodes } from 'mqtt';
import { z } from 'zod';
import { escapeBytes, type EvidenceInput } from '../harness/evidence.js';
import { testAccountFor } from './lib/bruteforce.js';
import { defineProbe, type ProbeContext } from './types.js';
import { connackMeaning } from './wire/mqtt.js';

const MqttAccessOptions = z.object({
  timeoutMs: z.number().int().min(100).max(120_000).default(5000).describe('deadline for connecting and for each answer awaited (CONNACK, SUBACK, PUBACK)'),
  listenMs: z.number().int().min(0).max(60_000).default(2000).describe('how long to collect messages after subscribing to # and $SYS/# (retained messages arrive at once)'),
  publish: z.boolean().default(true).describe('publish one QoS 1 message on iot-harness/probe/<random> without credentials and check that the broker delivers it'),
  maxMessages: z.number().int().min(1).max(100_000).default(1000).describe('messages counted per connection; the listen window ends there'),
  maxTopics: z.number().int().min(1).max(100_000).default(1000).describe('distinct topic names counted per connection'),
  maxBytes: z
    .number()
    .int()
    .min(4096)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024)
    .describe('bytes read per connection; a broker that sends more is cut off there'),
});

type Settings = z.output<typeof MqttAccessOptions>;

/** Topic names listed in an observation; the rest are only counted. */
const LISTED_TOPICS = 50;
/** Payload bytes kept from the first message of each listed topic. */
const PAYLOAD_BYTES = 256;
/** Characters kept of a topic name: MQTT allows 65535 bytes, a report needs far fewer. */
const TOPIC_CHARS = 200;
/** Bytes of the broker's first answer kept as evidence (a CONNACK is 4 bytes, MQTT 5 adds properties). */
const HEAD_BYTES = 64;
/** A broker that acknowledges but never finishes the DISCONNECT exchange is cut off after this. */
const GOODBYE_MS = 500;

const ALL = '#';
const SYS = '$SYS/#';

type Version = 4 | 5;

/** Why a connection ended before the probe closed it. */
type EndReason = 'closed' | 'messages' | 'bytes' | 'error' | 'aborted';

/** The CONNACK code, or why there was none. */
type ConnackResult = number | 'no connection' | 'no CONNACK' | 'closed' | 'not MQTT' | 'aborted';

function meaning(code: number, version: Version): string {
  // mqtt names 0 with an empty string: say "accepted" as for 3.1.1.
  return (version === 5 ? (ReasonCodes as Record<number, string>)[code] : undefined) || connackMeaning(code);
}

/** MQTT 5 reason code name for PUBACK and SUBACK (mqtt names 0 with an empty string). */
function reason(code: number): string {
  return (ReasonCodes as Record<number, string>)[code] || (code === 0 ? 'Success' : `code ${code}`);
}

function levelName(version: Version): string {
  return version === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
}

function clip(topic: string): string {
  return topic.length > TOPIC_CHARS ? `${topic.slice(0, TOPIC_CHARS)}…` : topic;
}

interface Sample {
  topic: string;
  retained: boolean;
  qos: number;
  bytes: number;
  /** The first PAYLOAD_BYTES bytes, non-printable ones escaped. */
  payload: string;
}

/** What the subscriptions delivered, counted under caps: a flood costs a counter, not memory. */
class Inbox {
  messages = 0;
  /** Messages on topics outside $SYS (they can only have come through `#`), the canary excluded. */
  messagesAll = 0;
  messagesSys = 0;
  /** The canary came back: the broker delivered what the probe published. */
  echoed = false;
  readonly topics = new Set<string>();
  readonly sysTopics = new Set<string>();
  readonly samples: Sample[] = [];
  readonly sysSamples: Sample[] = [];
  isTopicCapped = false;

  constructor(
    private readonly limits: { maxMessages: number; maxTopics: number },
    private readonly canary?: { topic: string; payload: Buffer },
  ) {}

  /** Counts one message; true once the message cap is reached. */
  add(topic: string, payload: Buffer, retained: boolean, qos: number): boolean {
    if (this.canary && topic === this.canary.topic && payload.equals(this.canary.payload)) {
      this.echoed = true;
      return false;
    }
    this.messages++;
    const isSys = topic.startsWith('$SYS');
    if (isSys) this.messagesSys++;
    else this.messagesAll++;
    const names = isSys ? this.sysTopics : this.topics;
    const name = clip(topic);
    if (!names.has(name)) {
      if (this.topics.size + this.sysTopics.size >= this.limits.maxTopics) this.isTopicCapped = true;
      else {
        names.add(name);
        const samples = isSys ? this.sysSamples : this.samples;
        if (samples.length < LISTED_TOPICS) {
          samples.push({ topic: name, retained, qos, bytes: payload.length, payload: escapeBytes(payload.subarray(0, PAYLOAD_BYTES)) });
        }
      }
    }
    return this.messages >= this.limits.maxMessages;
  }
}

type Waited = Packet | 'timeout' | EndReason;

/**
 * One MQTT connection driven by the `mqtt` client over a socket from the egress. Every wait has a
 * deadline, every byte read is counted against `maxBytes`, every message against `maxMessages`: a
 * broker that floods, stalls or sends garbage ends the connection with a reason, never a hang.
 */
class Session {
  readonly client: MqttClient;
  /** The broker's first bytes, for evidence. */
  head = Buffer.alloc(0);
  bytes = 0;
  lastError: string | undefined;
  #end: EndReason | undefined;
  readonly #waiters = new Set<(w: Waited) => void>();

  constructor(
    readonly socket: Socket,
    readonly version: Version,
    clientId: string,
    auth: { username: string; password: string } | undefined,
    options: Settings,
    readonly inbox: Inbox,
  ) {
    this.client = new MqttClient(() => socket, {
      protocolVersion: version,
      clientId,
      clean: true,
      keepalive: 30,
      // One connection, never a second one behind the probe's back.
      reconnectPeriod: 0,
      resubscribe: false,
      // The probe's own deadline decides "no CONNACK"; the client's must not fire first.
      connectTimeout: options.timeoutMs * 2,
      ...(auth ? { username: auth.username, password: auth.password } : {}),
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
      this.bytes += chunk.length;
      if (this.bytes > options.maxBytes) this.stop('bytes');
    });
    // A refused CONNACK, a parse error, a broken stream: the broker's doing, reported as the end reason.
    this.client.on('error', (err) => {
      this.lastError = err.message;
      this.stop('error');
    });
    this.client.on('close', () => this.stop('closed'));
    this.client.on('packetreceive', (packet) => {
      for (const w of [...this.#waiters]) w(packet);
    });
    this.client.on('message', (topic, payload, packet) => {
      if (this.inbox.add(topic, payload, packet.retain, packet.qos)) this.stop('messages');
    });
  }

  get endReason(): EndReason | undefined {
    return this.#end;
  }

  /** Ends the connection at once; the first reason given is the one kept. */
  stop(reason: EndReason): void {
    if (this.#end === undefined) {
      this.#end = reason;
      for (const w of [...this.#waiters]) w(reason);
    }
    this.client.removeAllListeners('message');
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** The first packet that satisfies `match`, or why none came: the deadline, the end of the connection. */
  waitFor(match: (p: Packet) => boolean, timeoutMs: number, signal: AbortSignal): Promise<Waited> {
    if (this.#end !== undefined) return Promise.resolve(this.#end);
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const waiter = (w: Waited): void => {
        if (typeof w === 'object' && !match(w)) return;
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(w);
      };
      const onAbort = (): void => {
        waiter('aborted');
        this.stop('aborted');
      };
      const timer = setTimeout(() => waiter('timeout'), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** DISCONNECT when still connected (a broker logs a clean leave), then close, bounded either way. */
  async close(): Promise<void> {
    if (this.#end === undefined && this.client.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, GOODBYE_MS);
        this.client.end(false, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.stop('closed');
  }
}

interface Opened {
  connack: ConnackResult;
  detail?: string;
  session?: Session;
  evidence: EvidenceInput;
}

function isTls(ctx: ProbeContext<Settings>): boolean {
  return ctx.service.tls || ctx.service.protocol === 'mqtts';
}

function where(ctx: ProbeContext<Settings>): string {
  return `${ctx.service.protocol} on tcp/${ctx.service.port}`;
}

/** Connects, sends CONNECT, waits for the CONNACK. The session is returned open only after CONNACK 0. */
async function open(ctx: ProbeContext<Settings>, version: Version, auth: { username: string; password: string } | undefined, inbox: Inbox): Promise<Opened> {
  const { options, service, target } = ctx;
  const who = auth ? 'as the declared test account (its password is not recorded)' : 'without username or password';
  const started = performance.now();
  const release = await ctx.net.acquireLoginSlot(target.ip);
  let opened: Omit<Opened, 'evidence'>;
  let session: Session | undefined;
  const clientId = `iot-harness-${randomBytes(4).toString('hex')}`;
  try {
    const connectOptions = { timeoutMs: options.timeoutMs, signal: ctx.signal };
    // The TLS probe judges certificates and versions; here any TLS the device speaks must do.
    const conn = isTls(ctx)
      ? await ctx.net.connectTls(target.ip, service.port, { rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, connectOptions)
      : await ctx.net.connectTcp(target.ip, service.port, connectOptions);
    if (!conn.ok) {
      opened = { connack: conn.reason === 'aborted' ? 'aborted' : 'no connection', detail: `${conn.reason}: ${conn.message}` };
    } else {
      session = new Session(conn.socket, version, clientId, auth, options, inbox);
      const left = Math.max(1, options.timeoutMs - (performance.now() - started));
      const got = await session.waitFor((p) => p.cmd === 'connack', left, ctx.signal);
      opened = connackOf(got, version, session);
    }
  } finally {
    release();
  }
  const answer = typeof opened.connack === 'number' ? `CONNACK ${opened.connack} (${meaning(opened.connack, version)})` : `${opened.connack}${opened.detail ? `: ${opened.detail}` : ''}`;
  const evidence: EvidenceInput = {
    kind: 'exchange',
    summary: `${where(ctx)}: ${levelName(version)} CONNECT ${who}: ${answer}`,
    port: service.port,
    transport: 'tcp',
    ...(session && session.head.length > 0 ? { received: firstPacket(session.head) } : {}),
    data: {
      protocolVersion: version,
      tls: isTls(ctx),
      clientId,
      authenticated: auth !== undefined,
      ...(typeof opened.connack === 'number' ? { code: opened.connack, meaning: meaning(opened.connack, version) } : { outcome: opened.connack, ...(opened.detail ? { detail: opened.detail } : {}) }),
    },
  };
  if (session && opened.connack !== 0) {
    await session.close();
    return { ...opened, evidence };
  }
  return { ...opened, ...(session ? { session } : {}), evidence };
}

/** The first packet of `head` when its length fits in one byte (a CONNACK does), else all of `head`. */
function firstPacket(head: Buffer): Buffer {
  const length = head[1];
  return length !== undefined && length < 0x80 && head.length >= 2 + length ? head.subarray(0, 2 + length) : head;
}

function connackOf(got: Waited, version: Version, session: Session): Omit<Opened, 'evidence'> {
  if (typeof got === 'object') {
    const code = got.cmd === 'connack' ? (version === 5 ? (got.reasonCode ?? got.returnCode) : (got.returnCode ?? got.reasonCode)) : undefined;
    return code === undefined ? { connack: 'not MQTT', detail: 'a CONNACK without a return code' } : { connack: code };
  }
  switch (got) {
    case 'timeout':
      return { connack: 'no CONNACK', detail: 'no CONNACK before the deadline' };
    case 'aborted':
      return { connack: 'aborted' };
    case 'bytes':
      return { connack: 'not MQTT', detail: `more than the byte cap without a CONNACK` };
    case 'error':
      // The client reports bytes it cannot parse as MQTT as an error; a closed stream is 'closed'.
      return session.bytes > 0 ? { connack: 'not MQTT', detail: session.lastError ?? 'unparseable answer' } : { connack: 'closed', detail: session.lastError ?? 'connection error' };
    default:
      return { connack: 'closed', detail: 'connection closed without a CONNACK' };
  }
}

/** SUBACK codes for `#` and `$SYS/#`: below 0x80 granted, 0x80 and above refused; null when no SUBACK came. */
interface Subscribed {
  all: number | null;
  sys: number | null;
  evidence: EvidenceInput;
}

async function subscribe(ctx: ProbeContext<Settings>, s: Session): Promise<Subscribed> {
  s.client.subscribe({ [ALL]: { qos: 0 }, [SYS]: { qos: 0 } });
  const got = await s.waitFor((p) => p.cmd === 'suback', ctx.options.timeoutMs, ctx.signal);
  const granted = typeof got === 'object' && got.cmd === 'suback' ? got.granted.map((g) => (typeof g === 'number' ? g : 0x80)) : [];
  const all = granted[0] ?? null;
  const sys = granted[1] ?? null;
  const text = (code: number | null): string => (code === null ? 'none' : code < 0x80 ? `granted QoS ${code}` : `refused 0x${code.toString(16)} (${reason(code)})`);
  return {
    all,
    sys,
    evidence: {
      kind: 'exchange',
      summary: `${where(ctx)}: SUBSCRIBE "${ALL}" and "${SYS}": ${typeof got === 'object' ? `SUBACK ${text(all)}, ${text(sys)}` : `no SUBACK (${got})`}`,
      port: ctx.service.port,
      transport: 'tcp',
      data: { protocolVersion: s.version, filters: [ALL, SYS], granted, ...(typeof got === 'object' ? {} : { outcome: got }) },
    },
  };
}

interface Published {
  /** PUBACK reason code (0 in MQTT 3.1.1), or null when no PUBACK came. */
  ack: number | null;
  evidence: EvidenceInput;
}

async function publish(ctx: ProbeContext<Settings>, s: Session, canary: { topic: string; payload: Buffer }): Promise<Published> {
  s.client.publish(canary.topic, canary.payload, { qos: 1, retain: false });
  const got = await s.waitFor((p) => p.cmd === 'puback', ctx.options.timeoutMs, ctx.signal);
  const ack = typeof got === 'object' && got.cmd === 'puback' ? (got.reasonCode ?? 0) : null;
  const answer = typeof got !== 'object' ? `no PUBACK (${got})` : s.version === 5 ? `PUBACK ${ack} (${reason(ack ?? 0)})` : 'PUBACK';
  return {
    ack,
    evidence: {
      kind: 'exchange',
      summary: `${where(ctx)}: PUBLISH QoS 1 "${canary.topic}" (${canary.payload.length} bytes, not retained): ${answer}`,
      port: ctx.service.port,
      transport: 'tcp',
      sent: canary.payload,
      data: { protocolVersion: s.version, topic: canary.topic, qos: 1, retain: false, puback: ack },
    },
  };
}

/** The listen window: until `listenMs` passes, the caps are reached, or the broker hangs up. */
async function listen(ctx: ProbeContext<Settings>, s: Session): Promise<'window' | EndReason> {
  const got = await s.waitFor(() => false, ctx.options.listenMs, ctx.signal);
  return got === 'timeout' ? 'window' : (got as EndReason);
}

function inboxEvidence(ctx: ProbeContext<Settings>, s: Session, stoppedBecause: string): EvidenceInput {
  const { inbox } = s;
  const capped = stoppedBecause === 'messages' ? ` (stopped at the cap of ${ctx.options.maxMessages} messages)` : stoppedBecause === 'bytes' ? ` (cut off after ${ctx.options.maxBytes} bytes)` : '';
  return {
    kind: 'exchange',
    summary: `${where(ctx)}: ${inbox.messages} message(s) on ${inbox.topics.size} topic(s) and ${inbox.sysTopics.size} $SYS topic(s) within ${ctx.options.listenMs} ms${capped}`,
    port: ctx.service.port,
    transport: 'tcp',
    data: {
      messages: inbox.messages,
      bytesRead: s.bytes,
      stoppedBecause,
      topicsCapped: inbox.isTopicCapped,
      samples: inbox.samples,
      sysSamples: inbox.sysSamples,
      payloadBytesKept: PAYLOAD_BYTES,
    },
  };
}

/** Subscribes to everything, listens, and closes; shared by the anonymous and the authenticated check. */
async function explore(
  ctx: ProbeContext<Settings>,
  s: Session,
  canary?: { topic: string; payload: Buffer },
): Promise<{ sub: Subscribed; pub?: Published; stoppedBecause: 'window' | EndReason; evidence: EvidenceInput[] }> {
  const sub = await subscribe(ctx, s);
  const pub = canary ? await publish(ctx, s, canary) : undefined;
  const stoppedBecause = await listen(ctx, s);
  const evidence = [sub.evidence, ...(pub ? [pub.evidence] : []), inboxEvidence(ctx, s, stoppedBecause)];
  await s.close();
  return { sub, ...(pub ? { pub } : {}), stoppedBecause, evidence };
}

function isGranted(code: number | null): boolean {
  return code !== null && code < 0x80;
}

/** What the subscriptions showed, in the fields both observations share. */
function readAccess(sub: Subscribed, inbox: Inbox): Record<string, unknown> {
  return {
    // A SUBACK alone proves little: mosquitto's acl_file grants every SUBSCRIBE and filters each message.
    subscribeAll: isGranted(sub.all) && (inbox.messagesAll > 0 || inbox.echoed),
    subscribeSys: isGranted(sub.sys) && inbox.messagesSys > 0,
    suback: { all: sub.all, sys: sub.sys },
    messagesSeen: inbox.messages,
    topics: [...inbox.topics].slice(0, LISTED_TOPICS),
    topicsSeen: inbox.topics.size,
    sysTopics: inbox.sysTopics.size,
  };
}

const NOTHING_READ = { subscribeAll: false, subscribeSys: false, suback: { all: null, sys: null }, messagesSeen: 0, topics: [], topicsSeen: 0, sysTopics: 0 };

export default defineProbe({
  meta: {
    id: 'mqtt-access',
    title: 'MQTT access without (and with) credentials',
    description:
      'Connects without credentials in MQTT 3.1.1 and MQTT 5; when let in, subscribes to # and $SYS/# for a bounded time, counting topics and messages, and publishes one message on a harness-owned topic to see whether it is delivered. With a declared test account, shows what that account may read.',
    protocols: ['mqtt', 'mqtts'],
    intrusive: true,
    budget: { maxAttempts: 3, timeoutMs: 5000 },
    options: MqttAccessOptions,
  },
  async run(ctx) {
    const { options, service } = ctx;
    const port = service.port;
    const protocol = service.protocol;
    const limits = { maxMessages: options.maxMessages, maxTopics: options.maxTopics };
    const nonce = randomBytes(6).toString('hex');
    const canary = options.publish ? { topic: `iot-harness/probe/${nonce}`, payload: Buffer.from(`iot-harness access probe ${nonce}`) } : undefined;

    // 1. Anonymous CONNECT in both protocol levels; the first connection stays open while the second is tried.
    const v311 = await open(ctx, 4, undefined, new Inbox(limits, canary));
    const v5 = await open(ctx, 5, undefined, new Inbox(limits, canary));
    const session = v5.session ?? v311.session;
    if (v5.session && v311.session) await v311.session.close();
    const connack = { v311: v311.connack, v5: v5.connack };
    const anonymousEvidence = [v311.evidence, v5.evidence].map((e) => ctx.record(e));

    // 2-3. Let in: read everything, write once, in MQTT 5 when the broker speaks it (reason codes say more).
    if (session) {
      const seen = await explore(ctx, session, canary);
      const echoed = session.inbox.echoed;
      const ack = seen.pub?.ack ?? null;
      // MQTT 3.1.1 has no way to refuse a PUBLISH: brokers acknowledge a denied one, so only the echo counts there.
      const isPublished = echoed || (session.version === 5 && ack !== null && ack < 0x80);
      ctx.observe(
        'mqtt.anonymous',
        {
          port,
          protocol,
          connect: true,
          ...readAccess(seen.sub, session.inbox),
          publish: isPublished,
          publishTested: canary !== undefined,
          ...(canary ? { publishTopic: canary.topic, publishAck: ack, publishEchoed: echoed } : {}),
          connack,
          protocolVersion: session.version,
          listenMs: options.listenMs,
          stoppedBecause: seen.stoppedBecause,
        },
        [...anonymousEvidence, ...seen.evidence],
      );
    } else {
      ctx.observe(
        'mqtt.anonymous',
        { port, protocol, connect: false, ...NOTHING_READ, publish: false, publishTested: false, connack, protocolVersion: null, listenMs: options.listenMs, stoppedBecause: 'not connected' },
        anonymousEvidence,
      );
    }

    // 4. The declared test account: what an authenticated client may read. Its password never reaches evidence.
    const account = testAccountFor(ctx, protocol);
    if (!account || ctx.signal.aborted) return;
    const speaks5 = typeof v5.connack === 'number' && v5.connack !== 1 && v5.connack !== 132;
    const version: Version = speaks5 ? 5 : 4;
    const auth = await open(ctx, version, { username: account.username, password: account.password }, new Inbox(limits));
    const authEvidence = ctx.record(auth.evidence);
    if (!auth.session) {
      ctx.observe(
        'mqtt.authenticated',
        { port, protocol, connect: false, ...NOTHING_READ, connack: auth.connack, protocolVersion: version, listenMs: options.listenMs, stoppedBecause: 'not connected' },
        [authEvidence],
      );
      return;
    }
    const seen = await explore(ctx, auth.session);
    ctx.observe(
      'mqtt.authenticated',
      { port, protocol, connect: true, ...readAccess(seen.sub, auth.session.inbox), connack: auth.connack, protocolVersion: version, listenMs: options.listenMs, stoppedBecause: seen.stoppedBecause },
      [authEvidence, ...seen.evidence],
    );
  },
});
