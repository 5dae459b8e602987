/**
 * RFC 6690 link-format, the content of a CoAP server's `/.well-known/core`: what resources it lists,
 * read as far as a device's listing can be read (malformed pieces are skipped, never fatal).
 */

/** One link of an RFC 6690 link-format document. */
export interface Link {
  /** The target as written between `<` and `>`. */
  target: string;
  /** Parameters: `rt`, `if`, `ct`, `title`, `obs` (a flag, `true`), ... */
  params: Record<string, string | true>;
}

/**
 * Parse link-format (`</a>;rt="x";ct=0,</b>;obs`) into links, at most `maxLinks`. Commas and
 * semicolons inside quoted strings and inside `<...>` are data, not separators. Malformed pieces
 * are skipped: a device's listing is reported as far as it can be read.
 */
export function parseLinkFormat(text: string, maxLinks = 256): Link[] {
  const links: Link[] = [];
  let i = 0;
  const n = text.length;
  while (i < n && links.length < maxLinks) {
    while (i < n && /[\s,]/.test(text[i] as string)) i++;
    if (text[i] !== '<') {
      // Not a link start: skip to the next top-level comma.
      while (i < n && text[i] !== ',') i = text[i] === '"' ? skipQuoted(text, i) : i + 1;
      continue;
    }
    const close = text.indexOf('>', i + 1);
    if (close === -1) break;
    const link: Link = { target: text.slice(i + 1, close), params: {} };
    i = close + 1;
    while (i < n && text[i] !== ',') {
      if (text[i] !== ';') {
        i++;
        continue;
      }
      i++;
      const nameMatch = /^\s*([A-Za-z0-9!#$&+\-.^_`|~*]+)/.exec(text.slice(i));
      if (!nameMatch) continue;
      const name = (nameMatch[1] as string).toLowerCase();
      i += nameMatch[0].length;
      if (text[i] !== '=') {
        link.params[name] ??= true;
        continue;
      }
      i++;
      if (text[i] === '"') {
        const end = skipQuoted(text, i);
        link.params[name] ??= text.slice(i + 1, end - 1).replace(/\\(.)/g, '$1');
        i = end;
      } else {
        const value = /^[^;,]*/.exec(text.slice(i))?.[0] ?? '';
        link.params[name] ??= value.trim();
        i += value.length;
      }
    }
    links.push(link);
  }
  return links;
}

/** Index just past the quoted string that starts at `start` (backslash escapes honoured). */
function skipQuoted(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/**
 * The device's own path for a link target: relative references and `coap(s)://` URIs to the same
 * endpoint become `/path`; anything else (another host, another scheme) is not ours to request.
 */
export function linkPath(target: string): string | undefined {
  if (target.startsWith('/')) return target.startsWith('//') ? undefined : target;
  const uri = /^coaps?:\/\/[^/]*(\/.*)?$/i.exec(target);
  if (uri) return uri[1] ?? '/';
  return /^[a-z][a-z0-9+.-]*:/i.test(target) ? undefined : `/${target}`;
}
