import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { coapRequest, getBlockwise, udpTransport, writeOwnResource, type CoapExchange, type CoapTransport, type ExchangeEnd, type RequestTiming } from './lib/coap.js';
import { linkPath, parseLinkFormat } from './lib/link-format.js';
import { pskHandshake, type HandshakeOutcome, type PskHandshake } from './lib/dtls-psk.js';
import { defineProbe, type ProbeContext } from './types.js';
import { decodeUint, describeCode, OPTIONS, optionValue } from './wire/coap.js';

const DISCOVERY_PATH = '/.well-known/core';

const options = z.object({
  timeoutMs: z.number().int().min(50).max(60_000).default(2000).describe('deadline for one CoAP request attempt'),
  retries: z.number().int().min(0).max(4).default(1).describe('resends (same message id) of a CoAP request that got no answer'),
  maxResources: z.number().int().min(0).max(100).default(10).describe('listed resources read with one GET each'),
  maxBlocks: z.number().int().min(1).max(1024).default(64).describe('Block2 blocks fetched of /.well-known/core at most'),
  maxDiscoveryBytes: z.number().int().min(64).max(1024 * 1024).default(64 * 1024).describe('bytes of /.well-known/core kept at most'),
  blockSize: z
    .number()
    .int()
    .refine((n) => [16, 32, 64, 128, 256, 512, 1024].includes(n), 'must be 16, 32, 64, 128, 256, 512 or 1024')
    .optional()
    .describe('ask for this Block2 size in the first discovery request; default: the device picks'),
  write: z.boolean().default(true).describe('try to create (and then delete) a resource of our own over plain CoAP'),
  handshakeTimeoutMs: z.number().int().min(100).max(60_000).default(3000).describe('deadline for one DTLS-PSK handshake'),
  previewBytes: z.number().int().min(0).max(4096).default(128).describe('payload bytes of each resource kept in evidence'),
});

type Options = z.output<typeof options>;
type Ctx = ProbeContext<Options>;

/** What one resource GET answered. `code` is null when no CoAP response came. */
interface ResourceRead {
  path: string;
  code: string | null;
  bytes: number;
  end?: ExchangeEnd;
}

function exchangeSummary(ex: CoapExchange): string {
  if (ex.reply) return `${describeCode(ex.reply.code)}, ${ex.reply.payload.length} payload bytes`;
  const tries = ex.attempts > 1 ? ` after ${ex.attempts} attempts` : '';
  if (ex.end === 'cap') return `${ex.datagrams} datagrams, none a response: stopped listening (flood)`;
  if (ex.isAcknowledged) return `empty ACK (a separate response promised), no response within ${ex.attempts} x the deadline (${ex.end})`;
  return ex.datagrams > 0 ? `${ex.datagrams} datagram(s), none a CoAP response${tries} (${ex.end})` : `no response${tries} (${ex.end}${ex.errorCode ? ` ${ex.errorCode}` : ''})`;
}

function exchangeEvidence(ctx: Ctx, ex: CoapExchange, secure: boolean, received?: Buffer): EvidenceInput {
  return {
    kind: 'exchange',
    summary: `${secure ? 'CoAP over DTLS' : 'CoAP'} ${ex.method} ${ex.path}: ${exchangeSummary(ex)}`,
    port: ctx.service.port,
    transport: 'udp',
    sent: ex.request.bytes,
    received: received ?? ex.received,
    data: { messageId: ex.request.messageId, code: ex.reply?.code ?? null, end: ex.end, acknowledged: ex.isAcknowledged, attempts: ex.attempts, datagrams: ex.datagrams, bytesSent: ex.bytesSent, bytesReceived: ex.bytesReceived },
  };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * Discovery, bounded reads of listed resources and (plain CoAP only) the write test, reported as one
 * `coap.access` observation. Over DTLS the requests are authenticated, so `read` and `write` (which
 * mean "without authentication") stay false and only discovery is done.
 */
async function examine(ctx: Ctx, transport: CoapTransport): Promise<void> {
  const { port } = ctx.service;
  const o = ctx.options;
  const timing: RequestTiming = { timeoutMs: o.timeoutMs, retries: o.retries };
  const secure = transport.secure;
  const anomalies: string[] = [];
  const evidence: string[] = [];

  const discovery = await getBlockwise(transport, DISCOVERY_PATH, { ...timing, maxBlocks: o.maxBlocks, maxBytes: o.maxDiscoveryBytes, ...(o.blockSize === undefined ? {} : { blockSize: o.blockSize }) });
  const requestBytes = discovery.exchanges.reduce((n, e) => n + e.bytesSent, 0);
  const responseBytes = discovery.exchanges.reduce((n, e) => n + e.bytesReceived, 0);
  const amplification = requestBytes > 0 ? round2(responseBytes / requestBytes) : 0;
  const answered = discovery.code !== undefined;
  const links = discovery.code === '2.05' ? parseLinkFormat(discovery.payload.toString('utf8')) : [];
  const paths = links.map((l) => linkPath(l.target) ?? l.target);
  const first = discovery.exchanges[0];
  const flooded = discovery.exchanges.some((e) => e.end === 'cap');
  if (flooded) anomalies.push('answered one request with more datagrams or bytes than a CoAP response; stopped listening');
  if (discovery.truncated && discovery.truncated !== 'no-answer') anomalies.push(`/.well-known/core transfer stopped: ${discovery.truncated}`);
  evidence.push(
    ctx.record({
      kind: 'exchange',
      summary: `${secure ? 'CoAP over DTLS' : 'CoAP'} GET ${DISCOVERY_PATH}: ${first && answered ? `${describeCode(discovery.code ?? '')}, ${discovery.payload.length} bytes in ${discovery.blocks} block(s), ${links.length} link(s)` : first ? exchangeSummary(first) : 'not sent'}; ${responseBytes} bytes back for ${requestBytes} sent (x${amplification})`,
      port,
      transport: 'udp',
      ...(first ? { sent: first.request.bytes } : {}),
      received: answered ? discovery.payload : (first?.received ?? Buffer.alloc(0)),
      data: {
        code: discovery.code ?? null,
        blocks: discovery.blocks,
        contentFormat: discovery.contentFormat ?? null,
        size2: discovery.size2 ?? null,
        truncated: discovery.truncated ?? null,
        requestBytes,
        responseBytes,
        exchanges: discovery.exchanges.slice(0, 16).map((e) => ({ code: e.reply?.code ?? null, end: e.end, attempts: e.attempts, bytesSent: e.bytesSent, bytesReceived: e.bytesReceived })),
      },
    }),
  );

  const resources: ResourceRead[] = [];
  let writeTest: Record<string, unknown> | null = null;
  let isWritable = false;
  // A port that never answered CoAP, or flooded us, gets nothing more: devices are fragile.
  const goOn = answered && !flooded && !ctx.signal.aborted;
  if (goOn && !secure) {
    const targets = [...new Set(links.map((l) => linkPath(l.target)).filter((p): p is string => p !== undefined && p !== DISCOVERY_PATH))].slice(0, o.maxResources);
    for (const path of targets) {
      if (ctx.signal.aborted) break;
      const ex = await coapRequest(transport, { method: 'GET', path }, timing);
      const read: ResourceRead = { path, code: ex.reply?.code ?? null, bytes: ex.reply?.payload.length ?? 0 };
      if (!ex.reply) read.end = ex.end;
      resources.push(read);
      const size2 = ex.reply ? optionValue(ex.reply, OPTIONS.SIZE2) : undefined;
      const ev = exchangeEvidence(ctx, ex, secure, ex.reply ? ex.reply.payload.subarray(0, o.previewBytes) : undefined);
      ev.data = { ...ev.data, path, bytes: read.bytes, ...(size2 ? { size2: decodeUint(size2) } : {}), previewBytes: Math.min(read.bytes, o.previewBytes) };
      evidence.push(ctx.record(ev));
      if (ex.end === 'cap') {
        anomalies.push(`GET ${path}: flood; stopped`);
        break;
      }
    }
    if (o.write && !ctx.signal.aborted && !anomalies.some((a) => a.includes('flood'))) {
      const test = await writeOwnResource(transport, timing);
      for (const ex of test.exchanges) evidence.push(ctx.record(exchangeEvidence(ctx, ex, secure)));
      isWritable = test.isWritable;
      writeTest = { path: test.path, attempts: test.attempts, protected: test.isProtected, cleanup: test.cleanup ?? null };
      if (test.isWritable && test.cleanup?.code !== '2.02') anomalies.push(`created ${test.cleanup?.path ?? test.path} and could not delete it (${test.cleanup?.code ?? test.cleanup?.end ?? 'not tried'}): remove it by hand`);
    }
  }
  ctx.observe(
    'coap.access',
    {
      port,
      secure,
      answered,
      discovery: paths,
      read: !secure && resources.some((r) => r.code === '2.05'),
      write: !secure && isWritable,
      amplification,
      resources,
      discoveryCode: discovery.code ?? null,
      blocks: discovery.blocks,
      writeTested: writeTest !== null,
      writeTest,
      ...(anomalies.length ? { anomalies } : {}),
    },
    evidence,
  );
}

/** Outcome names in `coap.dtls`; `not-tried` when an earlier attempt showed the port silent or hostile. */
type AttemptOutcome = HandshakeOutcome | 'not-tried';

function handshakeEvidence(ctx: Ctx, label: string, h: PskHandshake): EvidenceInput {
  const facts = [h.version, h.cipherSuite, h.identityHint !== undefined ? `hint "${h.identityHint}"` : undefined, h.alert ? `alert ${h.alert}` : undefined].filter((f) => f !== undefined);
  return {
    kind: 'exchange',
    summary: `DTLS-PSK handshake with ${label}: ${h.outcome}${facts.length ? ` (${facts.join(', ')})` : ''} in ${h.elapsedMs} ms`,
    port: ctx.service.port,
    transport: 'udp',
    received: Buffer.concat(h.received),
    data: { outcome: h.outcome, version: h.version ?? null, cipherSuite: h.cipherSuite ?? null, identityHint: h.identityHint ?? null, alert: h.alert ?? null, serverMessages: h.serverMessages.slice(0, 32), datagrams: h.datagrams, bytes: h.bytes, elapsedMs: h.elapsedMs, ...(h.error ? { error: h.error } : {}) },
  };
}

/** The three handshakes (declared PSK, empty PSK, wrong key), and discovery over the accepted session. */
async function examineDtls(ctx: Ctx): Promise<void> {
  const { port } = ctx.service;
  const { ip } = ctx.target;
  const declared = ctx.target.declaration?.data.coap?.psk;
  const hs = { timeoutMs: ctx.options.handshakeTimeoutMs, signal: ctx.signal };
  const evidence: string[] = [];
  const done: PskHandshake[] = [];
  // Silence or a flood ends the series: a device that does not answer one handshake will not answer the next.
  const stop = (): boolean => ctx.signal.aborted || done.some((h) => h.outcome === 'no-answer' || h.outcome === 'flood');

  let pskAccepted: boolean | null = null;
  if (declared) {
    // The declared key is a test credential: neither it nor the identity goes into any record.
    const right = await pskHandshake(ctx.net, ip, port, { identity: declared.identity, key: Buffer.from(declared.key, 'utf8') }, { ...hs, keepSession: true });
    done.push(right);
    evidence.push(ctx.record(handshakeEvidence(ctx, 'the declared PSK (identity and key redacted)', right)));
    pskAccepted = right.outcome === 'accepted' ? true : right.outcome === 'alert' || right.outcome === 'rejected-without-answer' ? false : null;
    if (right.session) {
      try {
        await examine(ctx, right.session.transport);
      } finally {
        await right.session.close();
      }
    }
  }
  const attempt = async (label: string, psk: { identity: string; key: Buffer }): Promise<AttemptOutcome> => {
    if (stop()) return 'not-tried';
    const h = await pskHandshake(ctx.net, ip, port, psk, hs);
    done.push(h);
    evidence.push(ctx.record(handshakeEvidence(ctx, label, h)));
    return h.outcome;
  };
  const noPsk = await attempt('an empty identity and an empty key', { identity: '', key: Buffer.alloc(0) });
  const wrongPsk = await attempt(declared ? 'the declared identity (redacted) and a random 16-byte key' : 'identity "iot-harness" and a random 16-byte key', { identity: declared?.identity ?? 'iot-harness', key: randomBytes(16) });
  const seen = done.find((h) => h.version !== undefined);
  ctx.observe(
    'coap.dtls',
    {
      port,
      version: seen?.version ?? null,
      cipherSuite: seen?.cipherSuite ?? null,
      identityHint: done.find((h) => h.identityHint !== undefined)?.identityHint ?? null,
      declaredPsk: declared !== undefined,
      pskAccepted,
      noPsk,
      wrongPsk,
    },
    evidence,
  );
}

/**
 * CoAP access control: what a client without credentials can list, read and write over plain CoAP,
 * how much a spoofed discovery request is amplified, and on DTLS ports which pre-shared keys complete a
 * handshake. Writes touch only a resource of our own name, deleted again.
 */
export default defineProbe({
  meta: {
    id: 'coap-access',
    title: 'CoAP discovery, unauthenticated read/write, DTLS-PSK',
    description:
      'Over plain CoAP: GET /.well-known/core (block-wise, bounded), one GET per listed resource, a PUT/POST creating /iot-harness-<random> (then DELETE), and the amplification factor of discovery. Over DTLS: handshakes with the declared PSK, an empty PSK and a wrong key, and discovery over the accepted session.',
    protocols: ['coap', 'coaps', 'dtls'],
    // Writes to the device and sends PSKs: --safe skips it.
    intrusive: true,
    budget: { maxAttempts: 80, timeoutMs: 2000 },
    options,
  },
  async run(ctx) {
    if (ctx.service.transport !== 'udp') {
      ctx.record({ kind: 'note', summary: `${ctx.service.protocol} on tcp/${ctx.service.port}: CoAP over TCP/TLS is not covered by coap-access`, port: ctx.service.port, transport: 'tcp' });
      return;
    }
    if (ctx.service.protocol === 'coap') await examine(ctx, udpTransport(ctx.net, ctx.target.ip, ctx.service.port, ctx.signal));
    else await examineDtls(ctx);
  },
});
