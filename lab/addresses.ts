import { createServer } from 'node:net';
import { LabError } from './errors.js';

/** First alias handed out: low enough to remember, clear of 127.0.0.1 and the 127.0.1.1 Debian hostname entry. */
export const DEFAULT_BASE_ADDRESS = '127.0.0.11';

/**
 * Whether this machine routes all of 127.0.0.0/8 to loopback (Linux does; macOS and Windows only
 * have 127.0.0.1 unless an alias is configured). Found by binding 127.0.0.2: EADDRNOTAVAIL means no.
 */
export function supportsLoopbackAliases(): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRNOTAVAIL') resolve(false);
      else reject(new LabError(`lab: cannot test loopback aliases on 127.0.0.2 (${err.code ?? err.message})`, { cause: err }));
    });
    probe.listen({ host: '127.0.0.2', port: 0 }, () => {
      probe.close((err) => (err ? reject(err) : resolve(true)));
    });
  });
}

/** `count` consecutive addresses from `base`, each checked to stay inside 127.0.0.0/8. */
export function aliasRange(base: string, count: number): string[] {
  const octets = base.split('.').map(Number);
  const valid = octets.length === 4 && octets[0] === 127 && octets.every((o) => Number.isInteger(o) && o >= 0 && o <= 255);
  if (!valid) throw new LabError(`lab: base address "${base}" is not in 127.0.0.0/8; use an address like ${DEFAULT_BASE_ADDRESS}`, { isInputError: true });
  const start = ((octets[1] ?? 0) << 16) | ((octets[2] ?? 0) << 8) | (octets[3] ?? 0);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = start + i;
    // Stop before the broadcast-looking 127.255.255.255 (and never wrap out of 127/8).
    if (n >= 0xffffff) throw new LabError(`lab: ${count} devices do not fit in 127.0.0.0/8 from ${base}; pick a lower base`, { isInputError: true });
    addresses.push(`127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  }
  return addresses;
}
