import { isIP } from 'node:net';
import { z } from 'zod';
import { analyseChain, fetchChain } from './lib/certificate.js';
import { defaultSuite, probeWeakClasses, sweepVersions, versionSummary } from './lib/tls-scan.js';
import { defineProbe } from './types.js';

/** DESIGN names the class `3DES`; it holds single DES suites too. */
const CLASS_NAMES: Record<string, string> = { 'DES/3DES': '3DES' };

/**
 * Every service that speaks TLS: which versions it offers (SSLv2 to TLS 1.3, each asked with a hand-built
 * hello so no version is missed because of our own client), which weak cipher classes it accepts, which
 * suite a modern client gets, and what certificate it presents. Facts only: 5.5-1 judges them.
 */
export default defineProbe({
  meta: {
    id: 'tls',
    title: 'TLS versions, weak cipher classes and certificate',
    description:
      'Sends one hand-built ClientHello per version (SSLv2, SSLv3, TLS 1.0-1.3), one per weak cipher class (NULL, EXPORT, anonymous, RC4, DES/3DES), a modern one for the default suite, then reads the certificate chain and checks it against the declared trust anchors and the system store.',
    protocols: ['https', 'mqtts', 'tls'],
    intrusive: false,
    budget: { maxAttempts: 20, timeoutMs: 3000 },
    options: z.object({
      timeoutMs: z.number().int().min(100).max(60_000).default(3000).describe('deadline for one handshake exchange'),
      weakClasses: z.boolean().default(true).describe('ask for each weak cipher class'),
    }),
  },
  async run(ctx) {
    const { port } = ctx.service;
    const { ip, address } = ctx.target;
    const serverName = isIP(address) ? undefined : address;
    const scan = { timeoutMs: ctx.options.timeoutMs, signal: ctx.signal, ...(serverName ? { serverName } : {}) };

    const hellos = await sweepVersions(ctx.net, ip, port, scan);
    const { offered, notOffered } = versionSummary(hellos);
    const helloEvidence = hellos.flatMap((h) => [...(h.firstAttempt ? [h.firstAttempt] : []), h.evidence]).map((e) => ctx.record(e));
    ctx.observe(
      'tls.versions',
      { port, offered, notOffered, answers: Object.fromEntries(hellos.map((h) => [h.version, h.negotiated && h.negotiated !== h.version ? `${h.answer} (${h.negotiated})` : h.answer])) },
      helloEvidence,
    );
    if (offered.length === 0) return;

    const [classes, chosen] = await Promise.all([ctx.options.weakClasses ? probeWeakClasses(ctx.net, ip, port, offered, scan) : Promise.resolve([]), defaultSuite(ctx.net, ip, port, offered, scan)]);
    const accepted = classes.filter((c) => c.accepted);
    ctx.observe(
      'tls.ciphers',
      {
        port,
        weak: [...new Set(accepted.map((c) => CLASS_NAMES[c.class] ?? c.class))],
        accepted: accepted.map((c) => ({ class: CLASS_NAMES[c.class] ?? c.class, version: c.version, suite: c.cipherName })),
        tried: classes.map((c) => CLASS_NAMES[c.class] ?? c.class),
        defaultSuite: chosen ? { version: chosen.version, suite: chosen.cipherName } : null,
      },
      [...classes.flatMap((c) => c.evidence), ...(chosen ? [chosen.evidence] : [])],
    );

    // Node's handshake gives the chain as the server sent it (and the only way into TLS 1.3); when Node
    // cannot handshake (an SSLv3-only device), the plaintext certificate from our own hello serves.
    const fetched = await fetchChain(ctx.net, ip, port, { timeoutMs: ctx.options.timeoutMs, signal: ctx.signal, ...(serverName ? { servername: serverName } : {}) });
    const fromHello = hellos.find((h) => h.offered && h.certificates?.length);
    const chain = 'chain' in fetched && fetched.chain.length > 0 ? fetched.chain : fromHello?.certificates;
    const fetchEv = ctx.record(fetched.evidence);
    if (!chain || chain.length === 0) {
      ctx.record({ kind: 'note', summary: `no certificate could be read from tcp/${port}`, port, transport: 'tcp' });
      return;
    }
    const facts = analyseChain(chain, { host: address, trustAnchors: ctx.target.declaration?.data.trustAnchors ?? [] });
    ctx.observe('tls.certificate', { port, ...facts, source: 'chain' in fetched ? 'handshake' : `${fromHello?.version ?? '?'} hello` }, [
      fetchEv,
      { kind: 'note', summary: `certificate ${facts.subject} (sha256 ${facts.fingerprintSha256}), issued by ${facts.issuer}${facts.weak.length ? `; weak: ${facts.weak.join(', ')}` : ''}`, port, transport: 'tcp', data: { ...facts } },
    ]);
  },
});
