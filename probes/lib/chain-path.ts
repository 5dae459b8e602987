// @peculiar/x509 needs the Reflect metadata API before it loads (see certificate.ts).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';
import type { Anchor, AnchorIndex } from './trust-anchors.js';
import { dateOf, errorText, oneLine } from './x509-text.js';

/**
 * The chain check: a path from the leaf, through the certificates the server sent, to a trust anchor,
 * every link issued by the next, its signature verifying, every certificate in date. When no path
 * holds, the most specific reason why.
 */

/** Fixed openings of `chainError`. */
export const CHAIN = {
  noPath: 'no path to a trusted anchor',
  expired: 'certificate expired',
  notYetValid: 'certificate not yet valid',
  badSignature: 'signature does not verify',
  notCa: 'issuer is not a CA',
  noCertSign: 'issuer may not sign certificates',
  malformed: 'malformed certificate',
  empty: 'no certificate',
} as const;

/** Why `parent` may not issue certificates per its key usage, if that is why checkIssued said no. */
function certSignRefusal(parent: X509Certificate): string | undefined {
  const name = oneLine(parent.subject);
  let ku: x509.KeyUsagesExtension | null;
  try {
    ku = new x509.X509Certificate(parent.raw).getExtension(x509.KeyUsagesExtension);
  } catch (err) {
    return `${CHAIN.noCertSign}: ${name} (its key usage is unreadable: ${errorText(err)})`;
  }
  return ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0 ? `${CHAIN.noCertSign}: ${name}` : undefined;
}

/** Undefined when `parent`'s key verifies `child`'s signature, else why not. */
function signatureProblem(child: X509Certificate, parent: X509Certificate): string | undefined {
  try {
    return child.verify(parent.publicKey) ? undefined : CHAIN.badSignature;
  } catch (err) {
    // An unsupported or broken key verifies nothing.
    return `${CHAIN.badSignature} (${errorText(err)})`;
  }
}

/** Issuer equals subject and the signature verifies with the certificate's own key. */
export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && signatureProblem(cert, cert) === undefined;
}

function dateProblem(cert: X509Certificate, now: Date): string | undefined {
  const subject = oneLine(cert.subject);
  const to = dateOf(cert.validTo);
  const from = dateOf(cert.validFrom);
  if (!to || !from) return `${CHAIN.malformed}: ${subject} has unreadable validity dates`;
  if (to.getTime() < now.getTime()) return `${CHAIN.expired}: ${subject} (valid to ${to.toISOString()})`;
  if (from.getTime() > now.getTime()) return `${CHAIN.notYetValid}: ${subject} (valid from ${from.toISOString()})`;
  return undefined;
}

export type PathResult = { ok: true; trustedBy: Anchor['set'] } | { ok: false; error: string };

const MAX_DEPTH = 8;

/**
 * Depth-first search for a path leaf → sent certificates → anchor, declared anchors before system ones.
 * Failures are ranked so the reported one is the most specific: a complete path out of date beats a
 * link whose signature fails, which beats having found no issuer at all.
 */
export function findPath(leaf: X509Certificate, sent: readonly X509Certificate[], indexes: readonly AnchorIndex[], now: Date): PathResult {
  let best: { rank: number; error: string } = { rank: 0, error: CHAIN.noPath };
  const fail = (rank: number, error: string): void => {
    if (rank > best.rank) best = { rank, error };
  };

  const complete = (path: readonly X509Certificate[], anchor: Anchor): PathResult | undefined => {
    for (const cert of path) {
      const problem = dateProblem(cert, now);
      if (problem) {
        fail(3, problem);
        return undefined;
      }
    }
    return { ok: true, trustedBy: anchor.set };
  };

  const walk = (path: X509Certificate[]): PathResult | undefined => {
    const current = path[path.length - 1] as X509Certificate;
    for (const index of indexes) {
      const pinned = index.byFingerprint.get(current.fingerprint256);
      const done = pinned && complete(path, pinned);
      if (done) return done;
    }
    if (path.length >= MAX_DEPTH) return undefined;
    const onPath = new Set(path.map((c) => c.fingerprint256));
    const candidates: Array<{ cert: X509Certificate; anchor?: Anchor }> = [
      ...indexes.flatMap((index) => index.bySubject.get(current.issuer) ?? []).map((a) => ({ cert: a.cert, anchor: a })),
      ...sent.filter((c) => c.subject === current.issuer && !onPath.has(c.fingerprint256)).map((cert) => ({ cert })),
    ];
    for (const { cert: parent, anchor } of candidates) {
      const parentName = oneLine(parent.subject);
      if (!current.checkIssued(parent)) {
        // Same name but not the issuer: a key usage without keyCertSign, or another key (AKI mismatch).
        const refusal = certSignRefusal(parent);
        if (refusal) fail(1, refusal);
        continue;
      }
      const badSignature = signatureProblem(current, parent);
      if (badSignature) {
        fail(2, `${badSignature}: ${oneLine(current.subject)} by ${parentName}`);
        continue;
      }
      // A declared anchor is trusted as such; a certificate the server sent must be a CA to issue.
      if (!anchor && !parent.ca) {
        fail(1, `${CHAIN.notCa}: ${parentName}`);
        continue;
      }
      const found = anchor ? complete([...path, parent], anchor) : walk([...path, parent]);
      if (found) return found;
    }
    return undefined;
  };

  return walk([leaf]) ?? { ok: false, error: best.error };
}
