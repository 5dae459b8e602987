import { timingSafeEqual } from 'node:crypto';

/** A username/password pair a lab service accepts. */
export interface Credential {
  username: string;
  password: string;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether the pair is in the list. Constant-time per comparison: the hardened device should not
 * teach a timing side channel, and the weak one gains nothing from a different code path.
 */
export function isAccepted(list: readonly Credential[], username: string, password: string): boolean {
  let found = false;
  for (const c of list) found = (same(c.username, username) && same(c.password, password)) || found;
  return found;
}

/** Decodes an `Authorization: Basic ...` header (HTTP and RTSP share it); undefined if absent or malformed. */
export function parseBasicAuth(header: string | undefined): Credential | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
