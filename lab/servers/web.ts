import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { isAccepted, Lockout, type LockoutPolicy, parseBasicAuth, type Credential } from './credentials.js';
import { debug, dropOnError, listen, type ListenOptions, type RunningServer } from './listen.js';

/** The device's web admin app, served the same over HTTP and HTTPS. */
export interface WebAppOptions {
  /** Title on the admin page, e.g. `IPCam Web Admin`. */
  title: string;
  /** Basic-auth accounts; omit for an admin page open to anyone on the LAN. */
  credentials?: readonly Credential[];
  /** Basic-auth realm. Default: the title. */
  realm?: string;
  /** `Server` response header; cheap cameras announce the embedded server and its version. Omit to send none. */
  serverHeader?: string;
  /** Extra headers on every response (e.g. `Strict-Transport-Security` on the hardened device). */
  headers?: Readonly<Record<string, string>>;
  /**
   * Public files by exact path (`/firmware/manifest.json`), answered to GET and HEAD before any
   * authentication: an update server hands its images to anyone, not only to the admin.
   */
  files?: Readonly<Record<string, WebFile>>;
  /**
   * Brute-force protection: after `afterFailures` wrong passwords for one account, that account is
   * refused for `forMs` with 429 Too Many Requests, even with the right password. Only names the
   * device has an account for are counted: there is nothing to lock behind any other name, and a
   * scan trying `root` or `admin` must not lock the owner out of a per-device account.
   */
  lockout?: LockoutPolicy;
}

/** A file the web server serves as is. */
export interface WebFile {
  body: Buffer;
  contentType: string;
}

export interface HttpOptions extends ListenOptions, WebAppOptions {}

export interface HttpsOptions extends ListenOptions, WebAppOptions {
  /** PEM private key and certificate (see lab/certs.ts). */
  key: string;
  cert: string;
  /** Lowest TLS version accepted. Default: Node's (TLSv1.2). */
  minVersion?: SecureVersion;
  /** Highest TLS version accepted. Default: TLSv1.3. */
  maxVersion?: SecureVersion;
  /** OpenSSL cipher string; `DEFAULT@SECLEVEL=0` is what lets TLS 1.0 and its SHA-1 suites through. */
  ciphers?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A request handler: public `files` first, then Basic auth in front of the admin page at `/` and a
 * 404 elsewhere, when credentials are configured.
 */
export function webApp(options: WebAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const baseHeaders: Record<string, string> = { ...(options.serverHeader ? { Server: options.serverHeader } : {}), ...options.headers };
  const send = (res: ServerResponse, status: number, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...baseHeaders, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const lockout = new Lockout(options.lockout, options.credentials ?? []);

  return (req, res) => {
    // Request bodies are never read: drain them so a large POST costs nothing but bandwidth.
    req.resume();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = options.files && Object.hasOwn(options.files, path) ? options.files[path] : undefined;
    if (file && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, file.body, { 'Content-Type': file.contentType });
      return;
    }
    if (options.credentials) {
      const given = parseBasicAuth(req.headers.authorization);
      const lockedFor = given ? lockout.lockedFor(given.username) : 0;
      if (lockedFor > 0) {
        send(res, 429, '<h1>429 Too many failed logins: try again later</h1>', { 'Retry-After': String(Math.ceil(lockedFor / 1000)) });
        return;
      }
      if (!given || !isAccepted(options.credentials, given.username, given.password)) {
        if (given) lockout.failed(given.username);
        send(res, 401, '<h1>401 Unauthorized</h1>', { 'WWW-Authenticate': `Basic realm="${options.realm ?? options.title}"` });
        return;
      }
      lockout.succeeded(given.username);
    }
    if (path === '/' || path === '/index.html') {
      const title = escapeHtml(options.title);
      send(res, 200, `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>Device settings: network, users, firmware.</p></body></html>`);
      return;
    }
    send(res, 404, '<h1>404 Not Found</h1>');
  };
}

/** Plain-HTTP admin interface. */
export function startHttpServer(options: HttpOptions): Promise<RunningServer> {
  const server = createHttpServer(webApp(options));
  server.on('connection', (socket: Socket) => dropOnError(socket, 'http'));
  return listen(server, options);
}

/**
 * HTTPS admin interface. The TLS settings are the whole point: a weak device is built with
 * `minVersion: 'TLSv1'` and `ciphers: 'DEFAULT@SECLEVEL=0'`, since OpenSSL 3 refuses TLS 1.0 at
 * its default security level and the device would look conformant without them.
 */
export function startHttpsServer(options: HttpsOptions): Promise<RunningServer> {
  const server = createHttpsServer(
    {
      key: options.key,
      cert: options.cert,
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    },
    webApp(options),
  );
  server.on('connection', (socket: Socket) => dropOnError(socket, 'https'));
  // A refused handshake (an old TLS version against the hardened hub) is expected traffic.
  server.on('tlsClientError', (err) => debug('https: handshake refused: %s', err.message));
  return listen(server, options);
}
