// Real HTTP(S) peer: lighttpd 1.4 (Debian 12 ships 1.4.69), common in device web UIs. Serves a tiny
// docroot, optionally over TLS with a generated certificate and tunable protocol floor/ciphers, and
// optionally with a Basic- or Digest-auth-protected path for credential probes.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCert, type CertFiles, type PeerCertOptions } from './certs.js';
import { inTempDir, requireBinary, requireFile, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface LighttpdTlsOptions {
  /** Certificate to make (defaults: CA-issued RSA 2048 with the host's IP in the SAN). */
  cert?: PeerCertOptions;
  /** OpenSSL MinProtocol, e.g. `TLSv1` for a weak server. Below TLSv1.2 needs `@SECLEVEL=0` ciphers. */
  minProtocol?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxProtocol?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL CipherString for TLS 1.2 and below, e.g. `DEFAULT@SECLEVEL=0`. */
  cipherString?: string;
}

export interface LighttpdBasicAuth {
  /** URL prefix that requires credentials, e.g. `/admin`. A page is created under it. */
  path: string;
  username: string;
  password: string;
  realm?: string;
  /**
   * `plain`: cleartext user file; `htpasswd`: `{SHA}` hashed. Both answer alike on the wire; the choice
   * only matters for tests of lighttpd's own backends.
   */
  backend?: 'plain' | 'htpasswd';
  /**
   * lighttpd waits 1 s before answering bad credentials (feature flag `auth.delay-invalid-creds`, on by
   * default). Keep it to test a probe's pacing against a real server; set false for fast tests.
   */
  delaysInvalidCreds?: boolean;
}

export interface LighttpdDigestAuth {
  /** URL prefix that requires credentials, e.g. `/admin`. A page is created under it. */
  path: string;
  username: string;
  password: string;
  realm?: string;
  /**
   * Digest algorithm lighttpd asks for (mod_auth `"algorithm"`). The htdigest file holds the matching
   * H(user:realm:password): 32 hex digits for MD5, 64 for SHA-256. Default: MD5, what cameras send.
   */
  algorithm?: 'MD5' | 'SHA-256';
  /** As for Basic: lighttpd waits 1 s before answering bad credentials unless this is false. */
  delaysInvalidCreds?: boolean;
}

export interface LighttpdOptions {
  host: string;
  port: number;
  /** Serve HTTPS instead of HTTP. `true` takes the defaults. */
  tls?: boolean | LighttpdTlsOptions;
  basicAuth?: LighttpdBasicAuth;
  /** A Digest-protected path (mod_auth `"method" => "digest"`, htdigest backend). Not with `basicAuth`: lighttpd has one backend. */
  digestAuth?: LighttpdDigestAuth;
  /** Extra files for the docroot: URL path (`/firmware/manifest.json`) to content. */
  files?: Record<string, string | Buffer>;
  readyTimeoutMs?: number;
}

export interface LighttpdPeer extends Daemon {
  host: string;
  port: number;
  /** `http://host:port` or `https://host:port`. */
  url: string;
  /** Certificate files when TLS is on (caPem verifies the server). */
  cert?: CertFiles;
}

/** lighttpd config strings are double-quoted with backslash escapes. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

async function writeDocroot(docroot: string, options: LighttpdOptions): Promise<void> {
  const files: Record<string, string | Buffer> = {
    '/index.html': '<!doctype html><title>iot-harness test peer</title><p>device web UI</p>\n',
    ...options.files,
  };
  for (const auth of [options.basicAuth, options.digestAuth]) {
    if (auth) files[`${auth.path.replace(/\/$/, '')}/index.html`] = '<p>admin area</p>\n';
  }
  for (const [urlPath, content] of Object.entries(files)) {
    const target = join(docroot, ...urlPath.split('/').filter(Boolean));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, content);
  }
}

export async function startLighttpd(options: LighttpdOptions): Promise<LighttpdPeer> {
  const lighttpd = requireBinary('lighttpd', 'lighttpd');
  const { host, port } = options;
  const tls = options.tls === true ? {} : options.tls || undefined;
  if (options.basicAuth && options.digestAuth) throw new RangeError('startLighttpd: give basicAuth or digestAuth, not both (lighttpd has one auth backend)');
  // Debian packages the TLS module apart from lighttpd, and only Recommends it.
  if (tls) requireFile('/usr/lib/lighttpd/mod_openssl.so', 'lighttpd-mod-openssl');

  return inTempDir('lighttpd', async (dir) => {
    const docroot = join(dir, 'www');
    await writeDocroot(docroot, options);

    // mod_indexfile and mod_staticfile are appended automatically by 1.4.69; list only what we add.
    const modules = ['mod_access'];
    const lines = [
      `server.document-root = ${quote(docroot)}`,
      `server.bind = ${quote(host)}`,
      `server.port = ${port}`,
      // No server.errorlog: with -D, errors go to stderr, which startDaemon keeps for failure messages.
      `server.upload-dirs = (${quote(dir)})`,
      'index-file.names = ("index.html")',
      'mimetype.assign = (".html" => "text/html", ".json" => "application/json", ".txt" => "text/plain", "" => "application/octet-stream")',
    ];

    let cert: CertFiles | undefined;
    if (tls) {
      cert = await writeCert(dir, { ipAddresses: [host], ...tls.cert });
      modules.push('mod_openssl');
      lines.push('ssl.engine = "enable"', `ssl.pemfile = ${quote(cert.certFile)}`, `ssl.privkey = ${quote(cert.keyFile)}`);
      const confCmd: string[] = [];
      if (tls.minProtocol) confCmd.push(`"MinProtocol" => ${quote(tls.minProtocol)}`);
      if (tls.maxProtocol) confCmd.push(`"MaxProtocol" => ${quote(tls.maxProtocol)}`);
      if (tls.cipherString) confCmd.push(`"CipherString" => ${quote(tls.cipherString)}`);
      if (confCmd.length > 0) lines.push(`ssl.openssl.ssl-conf-cmd = (${confCmd.join(', ')})`);
    }

    if (options.basicAuth) {
      const auth = options.basicAuth;
      modules.push('mod_auth', 'mod_authn_file');
      const userFile = join(dir, 'users');
      if (auth.backend === 'htpasswd') {
        const sha = createHash('sha1').update(auth.password).digest('base64');
        await writeFile(userFile, `${auth.username}:{SHA}${sha}\n`, { mode: 0o600 });
        lines.push('auth.backend = "htpasswd"', `auth.backend.htpasswd.userfile = ${quote(userFile)}`);
      } else {
        await writeFile(userFile, `${auth.username}:${auth.password}\n`, { mode: 0o600 });
        lines.push('auth.backend = "plain"', `auth.backend.plain.userfile = ${quote(userFile)}`);
      }
      if (auth.delaysInvalidCreds === false) lines.push('server.feature-flags += ("auth.delay-invalid-creds" => "disable")');
      lines.push(
        `auth.require = (${quote(auth.path)} => ("method" => "basic", "realm" => ${quote(auth.realm ?? 'device')}, "require" => "valid-user"))`,
      );
    }

    if (options.digestAuth) {
      const auth = options.digestAuth;
      const realm = auth.realm ?? 'device';
      const algorithm = auth.algorithm ?? 'MD5';
      modules.push('mod_auth', 'mod_authn_file');
      const userFile = join(dir, 'htdigest');
      const ha1 = createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(`${auth.username}:${realm}:${auth.password}`).digest('hex');
      await writeFile(userFile, `${auth.username}:${realm}:${ha1}\n`, { mode: 0o600 });
      lines.push('auth.backend = "htdigest"', `auth.backend.htdigest.userfile = ${quote(userFile)}`);
      if (auth.delaysInvalidCreds === false) lines.push('server.feature-flags += ("auth.delay-invalid-creds" => "disable")');
      lines.push(
        `auth.require = (${quote(auth.path)} => ("method" => "digest", "realm" => ${quote(realm)}, "algorithm" => ${quote(algorithm)}, "require" => "valid-user"))`,
      );
    }

    const confFile = join(dir, 'lighttpd.conf');
    const conf = [`server.modules = (${modules.map(quote).join(', ')})`, ...lines].join('\n');
    await writeFile(confFile, `${conf}\n`);

    const daemon = await startDaemon({
      name: 'lighttpd',
      file: lighttpd,
      // -D: stay in the foreground so the test owns the process.
      args: ['-D', '-f', confFile],
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return { ...daemon, host, port, url: `${tls ? 'https' : 'http'}://${host}:${port}`, cert };
  });
}
