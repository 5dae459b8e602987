import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { readBounded, writeSafely } from '../harness/io.js';
import {
  basicAuthorization,
  choosePlan,
  describeChallenges,
  digestAuthorization,
  type DigestChallenge,
  judgeAuthenticatedAnswer,
  NonceCounter,
  offersBasic,
  parseChallenges,
  toAttemptResult,
  toDigestChallenge,
} from './lib/http-auth.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { defineProbe, type ProbeContext } from './types.js';

/** Stream paths of common cameras: generic first, then Hikvision and Dahua, the most deployed. */
export const DEFAULT_RTSP_PATHS = ['/', '/live', '/stream1', '/h264', '/Streaming/Channels/101', '/cam/realmonitor?channel=1&subtype=0'];

const Options = CredentialOptions.extend({
  paths: z
    .array(z.string().startsWith('/'))
    .min(1)
    .default(DEFAULT_RTSP_PATHS)
    .describe('stream paths asked with DESCRIBE, in order, until one answers 401 or 200 (a 404 moves on)'),
});

type Settings = z.output<typeof Options>;

/** A response head is never allowed to grow past this. */
const HEAD_CAP = 16 * 1024;

interface RtspAnswer {
  status: number;
  reason: string;
  /** Header names lower-cased; repeated headers kept in order. */
  headers: Map<string, string[]>;
}

type Exchange = { answer: RtspAnswer; evidence: EvidenceInput } | { answer?: undefined; evidence: EvidenceInput; detail: string; connectFailed: boolean };

function parseHead(text: string): RtspAnswer | undefined {
  const [statusLine = '', ...lines] = text.split(/\r?\n/);
  const m = /^RTSP\/\d\.\d (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers };
}

function hostPart(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/**
 * One DESCRIBE on a fresh connection: many cameras close the connection after a 401, so reusing it would
 * turn refusals into resets. The head is read up to HEAD_CAP within the deadline; the SDP body is not needed.
 */
async function describe(ctx: ProbeContext<Settings>, path: string, authorization: string | undefined, cseq: number, signal: AbortSignal): Promise<Exchange> {
  const { port } = ctx.service;
  const uri = `rtsp://${hostPart(ctx.target.ip)}:${port}${path}`;
  const sent = `DESCRIBE ${uri} RTSP/1.0\r\nCSeq: ${cseq}\r\nUser-Agent: iot-harness\r\nAccept: application/sdp\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}\r\n`;
  const base = { kind: 'exchange', port, transport: 'tcp' } as const;
  const conn = await ctx.net.connectTcp(ctx.target.ip, port, { timeoutMs: ctx.options.timeoutMs, signal });
  if (!conn.ok) {
    return { evidence: { ...base, summary: `DESCRIBE ${path}: connection ${conn.reason} (${conn.code})` }, detail: `connection ${conn.reason}`, connectFailed: true };
  }
  try {
    const written = await writeSafely(conn.socket, sent);
    if (!written.ok) return { evidence: { ...base, summary: `DESCRIBE ${path}: write failed (${written.errorCode})`, sent }, detail: `write failed (${written.errorCode})`, connectFailed: false };
    const read = await readBounded(conn.socket, { maxBytes: HEAD_CAP, timeoutMs: ctx.options.timeoutMs, signal, until: (d) => d.includes('\r\n\r\n') });
    const end = read.data.indexOf('\r\n\r\n');
    const head = end === -1 ? read.data : read.data.subarray(0, end + 4);
    const answer = end === -1 ? undefined : parseHead(head.toString('latin1'));
    if (!answer) {
      const detail = read.data.length === 0 ? `no answer (${read.end}${read.errorCode ? ` ${read.errorCode}` : ''})` : `no RTSP response head (${read.end})`;
      return { evidence: { ...base, summary: `DESCRIBE ${path}: ${detail}`, sent, received: read.data }, detail, connectFailed: false };
    }
    return { answer, evidence: { ...base, summary: `DESCRIBE ${path}${authorization ? ` with ${authorization.split(' ')[0]} credentials` : ''} → ${answer.status} ${answer.reason}`, sent, received: head } };
  } finally {
    conn.socket.destroy();
  }
}

interface PathAnswer {
  path: string;
  status: number | null;
  schemes?: string[];
  detail?: string;
}

export default defineProbe({
  meta: {
    id: 'rtsp-login',
    title: 'RTSP default credentials',
    description:
      'Asks for a camera stream with RTSP DESCRIBE. A stream described without credentials is auth.none; a 401 challenge (Basic or Digest) is answered with default credentials, and Basic on plain RTSP is reported as cleartext.auth.',
    protocols: ['rtsp'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: Options,
  },
  async run(ctx) {
    const { port } = ctx.service;
    let cseq = 0;
    const answers: PathAnswer[] = [];
    const evidence: string[] = [];
    let found: { path: string; answer: RtspAnswer; evidenceId: string } | undefined;
    for (const path of ctx.options.paths) {
      if (ctx.signal.aborted) break;
      const ex = await describe(ctx, path, undefined, ++cseq, ctx.signal);
      const id = ctx.record(ex.evidence);
      evidence.push(id);
      if (!ex.answer) {
        answers.push({ path, status: null, detail: ex.detail });
        // A refused or silent port stays so whatever the path: asking the others only costs time.
        if (ex.connectFailed) break;
        continue;
      }
      const challenges = parseChallenges(ex.answer.headers.get('www-authenticate'));
      answers.push({ path, status: ex.answer.status, ...(challenges.length ? { schemes: describeChallenges(challenges) } : {}) });
      if (ex.answer.status === 401 || ex.answer.status === 200) {
        found = { path, answer: ex.answer, evidenceId: id };
        break;
      }
    }
    ctx.observe('rtsp.auth-challenge', { protocol: 'rtsp', port, paths: answers }, evidence);
    if (!found) return;
    const { path } = found;

    if (found.answer.status === 200) {
      // A 200 to DESCRIBE hands out the stream description: the stream plays without any credential.
      const type = found.answer.headers.get('content-type')?.[0] ?? '';
      if (/application\/sdp/i.test(type)) ctx.observe('auth.none', { protocol: 'rtsp', port, path }, [found.evidenceId]);
      return;
    }

    const challenges = parseChallenges(found.answer.headers.get('www-authenticate'));
    if (offersBasic(challenges)) {
      ctx.observe('cleartext.auth', { protocol: 'rtsp', port, scheme: 'Basic', path }, [found.evidenceId]);
    }
    const plan = choosePlan(challenges);
    if (!plan) return;

    const uri = `rtsp://${hostPart(ctx.target.ip)}:${port}${path}`;
    const nonces = new NonceCounter();
    // Each refusal carries a fresh challenge: the next attempt answers it, which halves the requests.
    let fresh: DigestChallenge | undefined = plan.scheme === 'Digest' ? plan.challenge : undefined;
    const nextDigest = (answer: RtspAnswer): DigestChallenge | undefined => {
      for (const c of parseChallenges(answer.headers.get('www-authenticate'))) {
        const d = toDigestChallenge(c);
        if (d) return d;
      }
      return undefined;
    };

    const attempt = async (credential: { username: string; password: string }, signal: AbortSignal): Promise<AttemptResult> => {
      let last: EvidenceInput | undefined;
      // A second round only when the server says the nonce went stale (the credentials were not judged).
      for (let round = 0; round < 2; round++) {
        let authorization: string;
        if (plan.scheme === 'Basic') authorization = basicAuthorization(credential.username, credential.password);
        else {
          if (!fresh) {
            const ask = await describe(ctx, path, undefined, ++cseq, signal);
            fresh = ask.answer ? nextDigest(ask.answer) : undefined;
            if (!fresh) return { outcome: 'unavailable', evidence: ask.evidence, detail: ask.answer ? `no Digest challenge (${ask.answer.status})` : ask.detail };
          }
          const challenge = fresh;
          fresh = undefined;
          authorization = digestAuthorization(challenge, { method: 'DESCRIBE', uri, username: credential.username, password: credential.password, nc: nonces.next(challenge.nonce) });
        }
        const ex = await describe(ctx, path, authorization, ++cseq, signal);
        last = ex.evidence;
        if (!ex.answer) return { outcome: 'unavailable', evidence: ex.evidence, detail: ex.detail };
        if (plan.scheme === 'Digest' && ex.answer.status === 401) {
          fresh = nextDigest(ex.answer);
          if (fresh?.stale && round === 0) continue;
        }
        const judged = judgeAuthenticatedAnswer(ex.answer.status, ex.answer.reason, ex.answer.headers.get('location')?.[0]);
        return toAttemptResult(judged, ex.evidence);
      }
      return { outcome: 'unavailable', evidence: last as EvidenceInput, detail: 'the nonce went stale twice in a row' };
    };
    await tryCredentials(ctx, 'rtsp', attempt);
    await runBruteForceTrial(ctx, 'rtsp', attempt);
  },
});
