import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { type Credential, resolveCredentials } from './lib/credentials.js';
import {
  type AuthPlan,
  basicAuthorization,
  type Challenge,
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
import { type HttpAnswer, httpGet, isTls, sameOriginPath } from './lib/http-client.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { defineProbe } from './types.js';

/**
 * Admin interfaces of cameras and routers, most common first: the web UI root, generic admin and login
 * pages, the CGI directory of embedded servers, Hikvision's ISAPI and Dahua's magicBox device-info calls.
 */
export const DEFAULT_HTTP_PATHS = ['/', '/admin', '/login', '/cgi-bin/', '/ISAPI/System/deviceInfo', '/cgi-bin/magicBox.cgi?action=getDeviceType'];

const Options = CredentialOptions.extend({
  paths: z
    .array(z.string().startsWith('/'))
    .min(1)
    .default(DEFAULT_HTTP_PATHS)
    .describe('admin paths asked without credentials; the first that challenges with Basic or Digest gets the credential attempts'),
});

/** Management-UI vocabulary; three distinct terms make a page an admin interface. */
const MANAGEMENT_TERMS: readonly [string, RegExp][] = [
  ['admin', /\badmin/],
  ['settings', /\bsettings?\b/],
  ['configuration', /\bconfig(uration)?\b/],
  ['device info', /\bdevice[\s_-]?info/],
  ['firmware', /\bfirmware/],
  ['network', /\bnetwork\b/],
  ['users', /\busers\b|\buser (accounts?|management)\b/],
  ['reboot', /\breboot\b/],
  ['factory reset', /\bfactory[\s_-]?(reset|defaults?)\b/],
  ['upgrade', /\bupgrade\b/],
  ['maintenance', /\bmaintenance\b/],
  ['wireless', /\bwireless\b|\bssid\b/],
  ['system log', /\bsystem[\s_-]?log\b|\bsyslog\b/],
  ['serial number', /\bserial[\s_-]?(number|no)\b|\bserialnumber\b/],
  ['mac address', /\bmac[\s_-]?address\b/],
];
const MIN_TERMS = 3;

type PageKind = { kind: 'login-form' } | { kind: 'admin'; terms: string[] } | { kind: 'other' };

/**
 * What a 200 page is, conservatively. A password field makes it a login form (credentials are asked for,
 * just not by HTTP). Otherwise it is an admin interface only when its visible text (scripts, styles and
 * tags removed) uses at least three distinct management terms: a landing page that mentions "admin" once
 * is not one. Binary answers are never judged.
 */
export function classifyPage(body: Buffer, contentType: string | string[] | undefined): PageKind {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
  if (type !== '' && !/text|html|xml|json/i.test(type)) return { kind: 'other' };
  const html = body.toString('utf8');
  if (/<input\b[^>]*\btype\s*=\s*["']?password/i.test(html)) return { kind: 'login-form' };
  const text = html
    .replace(/<script\b[\s\S]*?<\/script\s*>/gi, ' ')
    .replace(/<style\b[\s\S]*?<\/style\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[a-z][^>]*>/gi, (tag) => (/^<\/?(a|b|i|em|strong|span)\b/i.test(tag) ? '' : ' '))
    .toLowerCase();
  // XML element names (`<serialNumber>`) are words too in an API answer: keep them.
  const words = `${text} ${/xml/i.test(type) || html.trimStart().startsWith('<?xml') ? html.toLowerCase().replace(/[<>/]/g, ' ') : ''}`;
  const terms = MANAGEMENT_TERMS.filter(([, re]) => re.test(words)).map(([name]) => name);
  return terms.length >= MIN_TERMS ? { kind: 'admin', terms } : { kind: 'other' };
}

interface PathAnswer {
  path: string;
  status: number | null;
  redirectedTo?: string;
  finalStatus?: number;
  scheme?: string[];
  detail?: string;
}

interface Challenged {
  path: string;
  challenges: Challenge[];
  evidenceId: string;
}

export default defineProbe({
  meta: {
    id: 'http-login',
    title: 'HTTP default credentials',
    description:
      'Asks typical camera and router admin paths without credentials. An admin interface served without any is auth.none; a Basic or Digest challenge is answered with default credentials, and Basic over plain HTTP is reported as cleartext.auth.',
    protocols: ['http', 'https'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: Options,
  },
  async run(ctx) {
    const { port } = ctx.service;
    const protocol = isTls(ctx) ? 'https' : 'http';
    const deadline = (): AbortSignal => AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.options.timeoutMs)]);
    const answers: PathAnswer[] = [];
    const evidence: string[] = [];
    const challenged: Challenged[] = [];

    for (const path of ctx.options.paths) {
      if (ctx.signal.aborted) break;
      const first = await httpGet(ctx, path, undefined, deadline());
      const firstId = ctx.record(first.evidence);
      evidence.push(firstId);
      if (!first.answer) {
        answers.push({ path, status: null, detail: first.detail });
        // Refused or silent: another path will not be luckier, and each costs a timeout.
        if (first.connectFailed) break;
        continue;
      }
      const entry: PathAnswer = { path, status: first.answer.status };
      answers.push(entry);
      let final: { path: string; answer: HttpAnswer; evidenceId: string } = { path, answer: first.answer, evidenceId: firstId };
      // One same-origin redirect is followed (`/` → `/login.html`); one that leaves the target never is.
      const target = first.answer.status >= 300 && first.answer.status < 400 ? sameOriginPath(ctx, first.answer.headers.location) : undefined;
      if (target !== undefined && !ctx.signal.aborted) {
        const next = await httpGet(ctx, target, undefined, deadline());
        const nextId = ctx.record(next.evidence);
        evidence.push(nextId);
        entry.redirectedTo = target;
        if (!next.answer) {
          entry.detail = next.detail;
          continue;
        }
        entry.finalStatus = next.answer.status;
        final = { path: target, answer: next.answer, evidenceId: nextId };
      }
      const { answer } = final;
      if (answer.status === 401) {
        const challenges = parseChallenges(answer.headers['www-authenticate']);
        entry.scheme = describeChallenges(challenges);
        challenged.push({ path: final.path, challenges, evidenceId: final.evidenceId });
      } else if (answer.status >= 200 && answer.status < 300) {
        const page = classifyPage(answer.body, answer.headers['content-type']);
        if (page.kind === 'login-form') entry.scheme = ['form'];
        if (page.kind === 'admin') {
          ctx.observe('auth.none', { protocol, port, path, ...(final.path !== path ? { redirectedTo: final.path } : {}), terms: page.terms }, [final.evidenceId]);
        }
      }
    }
    ctx.observe('http.auth-challenge', { protocol, port, paths: answers }, evidence);

    const basic = challenged.find((c) => offersBasic(c.challenges));
    if (basic && protocol === 'http') ctx.observe('cleartext.auth', { protocol: 'http', port, scheme: 'Basic', path: basic.path }, [basic.evidenceId]);

    let chosen: { path: string; plan: AuthPlan } | undefined;
    for (const c of challenged) {
      const plan = choosePlan(c.challenges);
      if (plan) {
        chosen = { path: c.path, plan };
        break;
      }
    }
    if (!chosen) return;
    const { path, plan } = chosen;

    const nonces = new NonceCounter();
    // Each refusal carries a fresh challenge: the next attempt answers it, which halves the requests.
    let fresh: DigestChallenge | undefined = plan.scheme === 'Digest' ? plan.challenge : undefined;
    const digestIn = (answer: HttpAnswer): DigestChallenge | undefined => {
      for (const c of parseChallenges(answer.headers['www-authenticate'])) {
        const d = toDigestChallenge(c);
        if (d) return d;
      }
      return undefined;
    };

    const attempt = async (credential: Credential, signal: AbortSignal): Promise<AttemptResult> => {
      let last: EvidenceInput | undefined;
      // A second round only when the server says the nonce went stale (the credentials were not judged).
      for (let round = 0; round < 2; round++) {
        let authorization: string;
        if (plan.scheme === 'Basic') authorization = basicAuthorization(credential.username, credential.password);
        else {
          if (!fresh) {
            const ask = await httpGet(ctx, path, undefined, signal);
            fresh = ask.answer ? digestIn(ask.answer) : undefined;
            if (!fresh) return { outcome: 'unavailable', evidence: ask.evidence, detail: ask.answer ? `no Digest challenge (${ask.answer.status})` : ask.detail };
          }
          const challenge = fresh;
          fresh = undefined;
          authorization = digestAuthorization(challenge, { method: 'GET', uri: path, username: credential.username, password: credential.password, nc: nonces.next(challenge.nonce) });
        }
        const ex = await httpGet(ctx, path, authorization, signal);
        last = ex.evidence;
        if (!ex.answer) return { outcome: 'unavailable', evidence: ex.evidence, detail: ex.detail };
        if (plan.scheme === 'Digest' && ex.answer.status === 401) {
          fresh = digestIn(ex.answer);
          if (fresh?.stale && round === 0) continue;
        }
        const location = ex.answer.headers.location;
        const where = typeof location === 'string' ? (sameOriginPath(ctx, location) ?? location) : undefined;
        const judged = judgeAuthenticatedAnswer(ex.answer.status, `${ex.answer.statusText} ${ex.answer.body.toString('latin1')}`, where);
        return toAttemptResult(judged, ex.evidence);
      }
      return { outcome: 'unavailable', evidence: last as EvidenceInput, detail: 'the nonce went stale twice in a row' };
    };
    await tryCredentials(ctx, protocol, attempt, resolveCredentials(ctx.options.credentials, ['http', 'https']));
    await runBruteForceTrial(ctx, protocol, attempt);
  },
});
