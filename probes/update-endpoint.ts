import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../harness/errors.js';
import type { EvidenceInput } from '../harness/evidence.js';
import { analyseChain, fetchChain, type CertificateFacts } from './lib/certificate.js';
import { createImageVerifier, decodeSignature, loadPublicKey, needsWholeImage, parseManifest, type ImageVerifier, type SigningAlgorithm } from './lib/signature.js';
import { sweepVersions, versionSummary } from './lib/tls-scan.js';
import { downloadFacts, fetchFollowing, fetchSmall, get, isComplete2xx, portOf, reach, type Fetched, type Origin } from './lib/update-fetch.js';
import { defineProbe, TARGET_PROTOCOL, type ProbeContext } from './types.js';

/** A detached signature is a few hundred bytes; a file beyond this is not one. */
const SIGNATURE_CAP = 64 * 1024;
/** A signed JSON manifest is read whole (it is parsed): bounded here. */
const MANIFEST_CAP = 1024 * 1024;
const MIB = 1024 * 1024;
const port = z.number().int().min(1).max(65535);

const UpdateEndpointOptions = z.object({
  timeoutMs: z.number().int().min(100).max(120_000).default(5000).describe('deadline for one connection, TLS handshake or response head, and the longest pause allowed inside a body'),
  downloadTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000).describe('time limit for fetching one URL: every redirect hop and the whole body'),
  maxBytes: z.number().int().min(1024).max(1024 * MIB).default(64 * MIB).describe('bytes of one image read and hashed; beyond it the download stops (truncated). Ed25519 holds this much in memory'),
  maxRedirects: z.number().int().min(0).max(20).default(5).describe('redirect hops followed (each only into scope)'),
  plaintextPorts: z.array(port).default([80, 8080]).describe('ports where an https URL\'s path is also asked for over plain HTTP (the URL\'s own port is always tried too)'),
  httpsPorts: z.array(port).default([443, 8443]).describe('ports where an http URL\'s path is asked for over HTTPS'),
});
type Options = z.output<typeof UpdateEndpointOptions>;
type Ctx = ProbeContext<Options>;

/** A certificate check of one origin, shared by every URL that goes through it. */
interface CertCheck {
  valid: boolean;
  facts?: CertificateFacts;
  /** Why no certificate could be read (the handshake failed). */
  error?: string;
  evidence: string[];
}

/** The run's view of the declared signing setup. */
interface Signing {
  algorithm: SigningAlgorithm;
  key?: KeyObject;
  /** The declared key could not be used: reported in every observation, then raised. */
  keyProblem?: ConfigError;
  signatureUrl?: string;
  manifest: boolean;
}

/** The signature side of an observation. */
interface SignatureFacts {
  signatureChecked: boolean;
  signatureValid?: boolean;
  signatureError?: string;
  signatureUrl?: string;
  signatureEncoding?: string;
}

/**
 * The update endpoints a device declares (`update.urls`): transport (scheme, TLS versions, the
 * certificate against the declared anchors and the URL's host), a plain-HTTP path to the same image,
 * redirects (followed only into scope), a bounded streamed download with its SHA-256, and, when signing
 * is declared, the detached signature (or a signed manifest and the image it names). Facts only:
 * 5.3-2, 5.3-7, 5.3-9 and 5.3-10 judge them.
 */
export default defineProbe({
  meta: {
    id: 'update-endpoint',
    title: 'Software-update endpoint: transport, certificate, downgrade path, download, signature',
    description:
      'For each declared update URL in scope: the TLS versions and certificate (against update.trustAnchors or trustAnchors and the URL host), the same path over plain HTTP, redirects followed only into scope, a streamed download capped in bytes and time with its SHA-256, and the detached signature (or signed manifest) verified with the declared key.',
    protocols: [TARGET_PROTOCOL],
    intrusive: false,
    budget: { maxAttempts: 32, timeoutMs: 120_000 },
    options: UpdateEndpointOptions,
  },
  async run(ctx) {
    const data = ctx.target.declaration?.data;
    const update = data?.update;
    if (!update || update.urls.length === 0) return;
    const anchors = update.trustAnchors ?? data.trustAnchors;
    let signing: Signing | undefined;
    if (update.signing) {
      const s = update.signing;
      signing = { algorithm: s.algorithm, manifest: s.manifest === true, ...(s.signatureUrl === undefined ? {} : { signatureUrl: s.signatureUrl }) };
      try {
        signing.key = loadPublicKey(s.publicKey, s.algorithm);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        signing.keyProblem = error;
      }
    }
    const certs = new Map<string, Promise<CertCheck>>();
    const checkCert = (o: Origin): Promise<CertCheck> => {
      const key = `${o.ip}:${o.port}:${o.servername ?? ''}`;
      let check = certs.get(key);
      if (!check) {
        check = certificateOf(ctx, o, anchors);
        certs.set(key, check);
      }
      return check;
    };
    for (const url of update.urls) {
      if (ctx.signal.aborted) return;
      await checkUrl(ctx, url, signing, checkCert);
    }
    // The endpoint facts above are still worth having; the unusable key itself is the user's to fix.
    if (signing?.keyProblem) throw signing.keyProblem;
  },
});

async function certificateOf(ctx: Ctx, o: Origin, anchors: readonly string[]): Promise<CertCheck> {
  const fetched = await fetchChain(ctx.net, o.ip, o.port, { timeoutMs: ctx.options.timeoutMs, signal: ctx.signal, ...(o.servername === undefined ? {} : { servername: o.servername }) });
  const fetchEv = ctx.record(fetched.evidence);
  if ('error' in fetched) return { valid: false, error: fetched.error, evidence: [fetchEv] };
  const facts = analyseChain(fetched.chain, { host: o.hostname, trustAnchors: anchors });
  const valid = facts.chainValid && facts.nameMatches && !facts.expired && !facts.notYetValid;
  const note = ctx.record({
    kind: 'note',
    summary: `certificate of ${o.hostname}:${o.port}: ${facts.subject} (sha256 ${facts.fingerprintSha256}), issued by ${facts.issuer}; ${valid ? 'valid' : `not valid: ${[facts.chainError, facts.nameError, facts.expired ? 'expired' : undefined].filter(Boolean).join('; ')}`}`,
    port: o.port,
    transport: 'tcp',
    data: { ...facts },
  });
  return { valid, facts, evidence: [fetchEv, note] };
}

/** The download's deadline: the run's signal or the time limit, whichever comes first. */
function deadline(ctx: Ctx): { signal: AbortSignal; timeUp: () => boolean } {
  const limit = AbortSignal.timeout(ctx.options.downloadTimeoutMs);
  return { signal: AbortSignal.any([ctx.signal, limit]), timeUp: () => limit.aborted && !ctx.signal.aborted };
}

async function checkUrl(ctx: Ctx, declared: string, signing: Signing | undefined, checkCert: (o: Origin) => Promise<CertCheck>): Promise<void> {
  const url = new URL(declared);
  const isHttps = url.protocol === 'https:';
  const evidence: (string | EvidenceInput)[] = [];
  const manifestBytes: Buffer[] = [];
  const verifier = signing?.key && !signing.manifest ? createImageVerifier(signing.algorithm, signing.key) : undefined;
  // Every origin the update came through (redirects, a manifest's image): each HTTPS one must present a valid certificate.
  const visited: Origin[] = [];
  const visit = async (o: Origin): Promise<void> => {
    visited.push(o);
    if (o.scheme === 'https') await checkCert(o);
  };
  const fetched = await fetchFollowing(ctx.net, url, {
    timeoutMs: ctx.options.timeoutMs,
    ...deadline(ctx),
    maxRedirects: ctx.options.maxRedirects,
    maxBytes: signing?.manifest ? MANIFEST_CAP : ctx.options.maxBytes,
    onChunk: signing?.manifest ? (c) => manifestBytes.push(c) : verifier ? (c) => verifier.update(c) : undefined,
    onOrigin: visit,
  });
  evidence.push(...fetched.evidence);
  if (!fetched.contacted) {
    ctx.observe(
      'update.endpoint',
      {
        url: declared,
        inScope: fetched.inScope,
        addresses: fetched.addresses,
        notContacted: fetched.reason,
        https: isHttps,
        plaintextReachable: null,
        redirects: [],
        status: null,
        bytes: 0,
        truncated: false,
        sha256: null,
        signatureChecked: false,
        ...(signing ? { signatureError: 'the update URL was not contacted' } : {}),
      },
      evidence,
    );
    return;
  }

  const first = fetched.origins[0] as Origin;
  const value: Record<string, unknown> = { url: declared, inScope: true, addresses: fetched.addresses, https: isHttps };
  if (isHttps) {
    const hellos = await sweepVersions(ctx.net, first.ip, first.port, { timeoutMs: ctx.options.timeoutMs, signal: ctx.signal, ...(first.servername === undefined ? {} : { serverName: first.servername }) });
    value.tlsVersions = versionSummary(hellos).offered;
    evidence.push(...hellos.flatMap((h) => [...(h.firstAttempt ? [h.firstAttempt] : []), h.evidence]));
    const c = await checkCert(first);
    if (c.facts) {
      const f = c.facts;
      value.certificate = {
        subject: f.subject,
        issuer: f.issuer,
        fingerprintSha256: f.fingerprintSha256,
        selfSigned: f.selfSigned,
        expired: f.expired,
        nameMatches: f.nameMatches,
        trustedBy: f.trustedBy,
        ...(f.chainError === undefined ? {} : { chainError: f.chainError }),
        ...(f.nameError === undefined ? {} : { nameError: f.nameError }),
      };
    } else value.certificateError = c.error;
  }
  Object.assign(value, downloadFacts(fetched));
  value.finalUrl = fetched.finalUrl.href;

  const alternatives = await otherScheme(ctx, url, evidence);
  const is2xx = (a: { status?: number }): boolean => a.status !== undefined && a.status >= 200 && a.status < 300;
  const servedPlain = fetched.schemes.at(-1) === 'http' && isComplete2xx(fetched);
  value.plaintextReachable = servedPlain || (isHttps && alternatives.some(is2xx));
  if (isHttps) value.plaintext = alternatives;
  else Object.assign(value, { httpsAvailable: alternatives.some(is2xx), httpsTried: alternatives });

  const body = fetched.final?.body;
  if (body) evidence.push({ kind: 'note', summary: `${signing?.manifest ? 'manifest' : 'image'} ${fetched.finalUrl.href}: ${body.bytes} bytes read, sha256 ${body.sha256}${body.end === 'complete' ? '' : ` (stopped: ${body.end})`}`, data: { ...body } });

  if (!signing) Object.assign(value, { signatureChecked: false });
  else if (signing.manifest) Object.assign(value, await checkManifest(ctx, declared, signing, fetched, Buffer.concat(manifestBytes), visit, evidence));
  else Object.assign(value, await checkImageSignature(ctx, declared, signing, fetched, verifier, evidence));

  // HTTPS end to end: the declared URL and every origin the update came through (a redirect or a
  // manifest's image URL that leaves HTTPS puts the bytes in the clear).
  value.https = isHttps && visited.every((o) => o.scheme === 'https');
  if (isHttps) {
    const checks = await Promise.all(visited.filter((o) => o.scheme === 'https').map(checkCert));
    value.certValid = checks.every((c) => c.valid);
    for (const e of new Set(checks.flatMap((c) => c.evidence))) evidence.push(e);
  }
  ctx.observe('update.endpoint', value, evidence);
}

/** For an https URL: the same path over plain HTTP; for an http URL: over HTTPS. Status only, no body. */
async function otherScheme(ctx: Ctx, url: URL, evidence: (string | EvidenceInput)[]): Promise<{ url: string; status?: number; error?: string }[]> {
  const toHttp = url.protocol === 'https:';
  const ports = [...new Set(toHttp ? [...ctx.options.plaintextPorts, portOf(url)] : ctx.options.httpsPorts)];
  const out: { url: string; status?: number; error?: string }[] = [];
  for (const p of ports) {
    const alt = new URL(url.href);
    alt.protocol = toHttp ? 'http:' : 'https:';
    alt.port = String(p);
    const r = await reach(ctx.net, alt, ctx.options.timeoutMs);
    if (!r.ok) {
      out.push({ url: alt.href, error: r.reason });
      continue;
    }
    const a = await get(ctx.net, r.origin, `${alt.pathname}${alt.search}`, { timeoutMs: ctx.options.timeoutMs, signal: ctx.signal });
    evidence.push(a.evidence);
    out.push(a.status === null ? { url: alt.href, error: a.error ?? 'no answer' } : { url: alt.href, status: a.status });
  }
  return out;
}

/** The declared signature location: `signatureUrl`, or the URL with `.sig` appended to its path. */
function signatureLocation(declared: string, signing: Signing): URL {
  if (signing.signatureUrl !== undefined) return new URL(signing.signatureUrl);
  const u = new URL(declared);
  u.pathname += '.sig';
  return u;
}

/** Fetch and decode the detached signature, or say why there is none (`missing`: the server has none to give). */
async function fetchSignature(ctx: Ctx, at: URL, evidence: (string | EvidenceInput)[]): Promise<{ signature: Buffer; encoding: string } | { missing: boolean; error: string }> {
  const got = await fetchSmall(ctx.net, at, { timeoutMs: ctx.options.timeoutMs, ...deadline(ctx), maxRedirects: ctx.options.maxRedirects, maxBytes: SIGNATURE_CAP }, 'signature');
  evidence.push(...got.evidence);
  if ('error' in got) return got;
  if (got.bytes.length === 0) return { missing: true, error: `the signature file at ${at.href} is empty` };
  return decodeSignature(got.bytes);
}

async function checkImageSignature(ctx: Ctx, declared: string, signing: Signing, fetched: Fetched, verifier: ImageVerifier | undefined, evidence: (string | EvidenceInput)[]): Promise<SignatureFacts> {
  const at = signatureLocation(declared, signing);
  const facts = await (async (): Promise<SignatureFacts> => {
    if (!verifier) return { signatureChecked: false, signatureError: signing.keyProblem?.message ?? 'no usable public key' };
    const body = fetched.final?.body;
    if (!body) return { signatureChecked: false, signatureError: `no image to verify (${fetched.final?.status ?? fetched.final?.error ?? 'no answer'})` };
    if (body.end === 'size-cap') {
      const why = needsWholeImage(signing.algorithm) ? 'Ed25519 verification needs the whole image in memory' : 'the signature covers the whole image';
      return { signatureChecked: false, signatureError: `the image is larger than maxBytes (${body.bytes} bytes read): not verified, as ${why}` };
    }
    if (body.end !== 'complete') return { signatureChecked: false, signatureError: `the image download stopped (${body.end}) after ${body.bytes} bytes: not verified` };
    const sig = await fetchSignature(ctx, at, evidence);
    if ('error' in sig) return { signatureChecked: false, ...(sig.missing ? { signatureValid: false } : {}), signatureError: sig.error, signatureUrl: at.href };
    const result = verifier.verify(sig.signature);
    return { signatureChecked: true, signatureValid: result.valid, ...(result.valid ? {} : { signatureError: result.error }), signatureUrl: at.href, signatureEncoding: sig.encoding };
  })();
  evidence.push(signatureNote(declared, signing.algorithm, facts));
  return facts;
}

function signatureNote(what: string, algorithm: string, f: SignatureFacts): EvidenceInput {
  const result = f.signatureChecked ? (f.signatureValid ? 'valid' : `INVALID: ${f.signatureError ?? ''}`) : `not checked: ${f.signatureError ?? ''}`;
  return { kind: 'note', summary: `${algorithm} signature of ${what}${f.signatureUrl ? ` (${f.signatureUrl}${f.signatureEncoding ? `, ${f.signatureEncoding}` : ''})` : ''}: ${result}`, data: { ...f } };
}

async function checkManifest(ctx: Ctx, declared: string, signing: Signing, fetched: Fetched, bytes: Buffer, visit: (o: Origin) => Promise<void>, evidence: (string | EvidenceInput)[]): Promise<Record<string, unknown>> {
  const at = signatureLocation(declared, signing);
  const body = fetched.final?.body;
  const fail = (error: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const f: SignatureFacts = { signatureChecked: false, signatureError: error, ...extra };
    evidence.push(signatureNote(`the manifest ${declared}`, signing.algorithm, f));
    return { ...f };
  };
  if (!signing.key) return fail(signing.keyProblem?.message ?? 'no usable public key');
  if (!body) return fail(`no manifest to verify (${fetched.final?.status ?? fetched.final?.error ?? 'no answer'})`);
  if (body.end !== 'complete') return fail(`the manifest could not be read whole (${body.end}${body.end === 'size-cap' ? `: larger than ${MANIFEST_CAP} bytes` : ''})`);
  const sig = await fetchSignature(ctx, at, evidence);
  if ('error' in sig) return fail(sig.error, { ...(sig.missing ? { signatureValid: false } : {}), signatureUrl: at.href });
  const verifier = createImageVerifier(signing.algorithm, signing.key);
  verifier.update(bytes);
  const checked = verifier.verify(sig.signature);
  const manifest: Record<string, unknown> = { signatureValid: checked.valid };
  const facts: SignatureFacts = { signatureChecked: true, signatureUrl: at.href, signatureEncoding: sig.encoding };
  if (!checked.valid) Object.assign(facts, { signatureValid: false, signatureError: checked.error });
  else {
    // A valid manifest signature vouches for the image only through the hash it names: the image decides.
    const named = parseManifest(bytes);
    if (named.error !== undefined) manifest.error = named.error;
    if (named.url !== undefined) manifest.imageUrl = named.url;
    if (named.sha256 !== undefined) manifest.imageSha256 = named.sha256;
    Object.assign(facts, await manifestImageFacts(ctx, fetched, named, manifest, visit, evidence));
  }
  evidence.push(signatureNote(`the manifest ${declared}`, signing.algorithm, facts));
  return { ...facts, manifest };
}

/** Fetch the image a verified manifest names and compare its hash; the result decides `signatureValid`. */
async function manifestImageFacts(ctx: Ctx, fetched: Fetched, named: { url?: string; sha256?: string }, manifest: Record<string, unknown>, visit: (o: Origin) => Promise<void>, evidence: (string | EvidenceInput)[]): Promise<Partial<SignatureFacts>> {
  if (named.sha256 === undefined) return { signatureValid: false, signatureError: 'the signed manifest names no sha256 for the image, so the signature does not cover it' };
  if (named.url === undefined) return { signatureError: 'the signed manifest names no image url: the image was not fetched' };
  let imageUrl: URL;
  try {
    imageUrl = new URL(named.url, fetched.finalUrl);
  } catch {
    // The device's manifest is wrong, not the harness: reported.
    return { signatureValid: false, signatureError: `the manifest's image url ${named.url} does not parse` };
  }
  const image = await fetchFollowing(ctx.net, imageUrl, {
    timeoutMs: ctx.options.timeoutMs,
    ...deadline(ctx),
    maxRedirects: ctx.options.maxRedirects,
    maxBytes: ctx.options.maxBytes,
    onOrigin: visit,
  });
  evidence.push(...image.evidence);
  const imageFacts: Record<string, unknown> = { url: imageUrl.href, inScope: image.inScope, https: image.contacted && image.schemes.every((s) => s === 'https') };
  if (!image.contacted) imageFacts.notContacted = image.reason;
  else Object.assign(imageFacts, downloadFacts(image));
  manifest.image = imageFacts;
  const body = image.final?.body;
  if (!image.contacted || !body || body.end !== 'complete') {
    return { signatureError: `the image the manifest names (${imageUrl.href}) could not be read whole (${image.reason ?? body?.end ?? image.final?.status ?? image.final?.error ?? 'no answer'}): its hash was not compared` };
  }
  const matches = body.sha256 === named.sha256;
  manifest.hashMatches = matches;
  evidence.push({ kind: 'note', summary: `image ${imageUrl.href}: sha256 ${body.sha256} ${matches ? 'matches' : 'does NOT match'} the signed manifest's ${named.sha256}` });
  return matches ? { signatureValid: true } : { signatureValid: false, signatureError: `the image's sha256 ${body.sha256} does not match the signed manifest's ${named.sha256}` };
}
