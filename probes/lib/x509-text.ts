/** How the certificate modules spell what Node reads from a certificate, and what went wrong reading it. */

/** An error's message, or the thrown value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One line, in certificate order; Node separates RDNs with newlines. */
export function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

/** Node prints validity as `Nov 21 14:43:14 2026 GMT`; undefined when that does not parse. */
export function dateOf(text: string): Date | undefined {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
