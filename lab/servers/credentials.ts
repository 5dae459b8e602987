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

/** Brute-force protection as a device does it: after N wrong passwords an account is locked for a while. */
export interface LockoutPolicy {
  afterFailures: number;
  forMs: number;
}

/**
 * Wrong-password bookkeeping for one service. Only the service's own usernames are counted (there is
 * no account to protect otherwise), which also keeps the table as small as the account list. When a
 * lock expires the count starts again from zero, so the next lock takes N more wrong passwords.
 */
export class Lockout {
  readonly #failures = new Map<string, { count: number; lockedUntil: number }>();

  constructor(
    readonly policy: LockoutPolicy | undefined,
    readonly accounts: readonly Credential[],
  ) {}

  /** Milliseconds the account stays locked; 0 when it is not (or there is no policy). */
  lockedFor(username: string): number {
    const record = this.#failures.get(username);
    if (!this.policy || !record || record.lockedUntil === 0) return 0;
    const left = record.lockedUntil - Date.now();
    if (left > 0) return left;
    this.#failures.delete(username);
    return 0;
  }

  /** A wrong password for `username`; counted only for the service's own accounts. */
  failed(username: string): void {
    if (!this.policy || !this.accounts.some((c) => c.username === username)) return;
    const record = this.#failures.get(username) ?? { count: 0, lockedUntil: 0 };
    record.count++;
    if (record.count >= this.policy.afterFailures) record.lockedUntil = Date.now() + this.policy.forMs;
    this.#failures.set(username, record);
  }

  /** A right password clears the count. */
  succeeded(username: string): void {
    this.#failures.delete(username);
  }
}
