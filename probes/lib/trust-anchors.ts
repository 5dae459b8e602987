import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { errorText } from './x509-text.js';

/**
 * Trust anchors for the chain check: the PEM (or DER) files a declaration names, and the system store
 * (Node's bundled roots plus Debian's /etc/ssl/certs bundle, read once per run). An anchor that does
 * not read is a problem reported with the chain's facts, never a throw.
 */

/** A certificate trusted as the end of a path, and the set it was declared in. */
export interface Anchor {
  cert: X509Certificate;
  set: 'declaration' | 'system';
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Anchors by SHA-256 fingerprint (an anchor sent by the server ends the path) and by subject (issuer lookup). */
export interface AnchorIndex {
  byFingerprint: Map<string, Anchor>;
  bySubject: Map<string, Anchor[]>;
}

function indexAnchors(anchors: readonly Anchor[]): AnchorIndex {
  const index: AnchorIndex = { byFingerprint: new Map(), bySubject: new Map() };
  for (const a of anchors) {
    if (index.byFingerprint.has(a.cert.fingerprint256)) continue;
    index.byFingerprint.set(a.cert.fingerprint256, a);
    index.bySubject.set(a.cert.subject, [...(index.bySubject.get(a.cert.subject) ?? []), a]);
  }
  return index;
}

let systemCache: { index: AnchorIndex; problems: string[] } | undefined;

/** Node's bundled roots plus Debian's bundle, parsed once (~250 ms): the store does not change during a run. */
function systemStore(): { index: AnchorIndex; problems: string[] } {
  if (systemCache) return systemCache;
  const pems = [...rootCertificates];
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  if (existsSync(bundle)) pems.push(...pemBlocks(readFileSync(bundle, 'utf8')));
  const anchors: Anchor[] = [];
  const problems: string[] = [];
  for (const pem of pems) {
    try {
      anchors.push({ cert: new X509Certificate(pem), set: 'system' });
    } catch (err) {
      problems.push(`a system root does not parse (${errorText(err)})`);
    }
  }
  systemCache = { index: indexAnchors(anchors), problems };
  return systemCache;
}

function declaredAnchors(paths: readonly string[], problems: string[]): Anchor[] {
  const anchors: Anchor[] = [];
  for (const path of paths) {
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch (err) {
      problems.push(`trust anchor ${path} is unreadable (${(err as NodeJS.ErrnoException).code ?? errorText(err)})`);
      continue;
    }
    const blocks = pemBlocks(content.toString('latin1'));
    // A file without PEM armour may be a single DER certificate.
    for (const item of blocks.length > 0 ? blocks : [content]) {
      try {
        anchors.push({ cert: new X509Certificate(item), set: 'declaration' });
      } catch (err) {
        problems.push(`trust anchor ${path} holds a certificate that does not parse (${errorText(err)})`);
      }
    }
  }
  return anchors;
}

/**
 * The anchor sets a path may end in, in the order they are tried: the declared files (PEM or DER), then
 * the system store. `problems` says which anchors could not be read, declared ones first.
 */
export function anchorIndexes(paths: readonly string[]): { indexes: AnchorIndex[]; problems: string[] } {
  const problems: string[] = [];
  const declared = indexAnchors(declaredAnchors(paths, problems));
  const store = systemStore();
  return { indexes: [declared, store.index], problems: [...problems, ...store.problems] };
}
