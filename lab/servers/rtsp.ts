import { createServer, type Socket } from 'node:net';
import { isAccepted, parseBasicAuth, type Credential } from './credentials.js';
import { dropOnError, listen, type ListenOptions, type RunningServer } from './listen.js';

export interface RtspOptions extends ListenOptions {
  /** Basic-auth accounts for DESCRIBE; omit to stream to anyone. */
  credentials?: readonly Credential[];
  /** `WWW-Authenticate` realm. Default: `IPCam`. */
  realm?: string;
  /** `Server` header. Default: a Hipcam-style embedded server string. */
  serverHeader?: string;
  /** Largest request head accepted; a client that sends more is dropped. Default: 8 KiB. */
  maxRequestBytes?: number;
}

const PUBLIC_METHODS = 'OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER';

interface Request {
  method: string;
  uri: string;
  version: string;
  headers: Map<string, string>;
}

function parseHead(head: string): Request | undefined {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return undefined;
  const [method = '', uri = '', version = ''] = parts;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { method, uri, version, headers };
}

/** The smallest SDP a client accepts as "a camera stream is here": one H.264 video track. */
function sdp(address: string): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${address}`,
    's=IPCam live',
    `c=IN IP4 ${address}`,
    't=0 0',
    'm=video 0 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    'a=control:track1',
    '',
  ].join('\r\n');
}

/**
 * Answers one request. Authentication applies to DESCRIBE only, as on many cameras where OPTIONS
 * is open so that players can discover the methods.
 */
function respond(request: Request | undefined, options: RtspOptions, localAddress: string): string {
  const cseq = request?.headers.get('cseq');
  const lines = (status: string, headers: Record<string, string | number> = {}, body = ''): string => {
    const all: Record<string, string | number> = {
      ...(cseq !== undefined ? { CSeq: cseq } : {}),
      Server: options.serverHeader ?? 'Hipcam RealServer/V1.0',
      ...headers,
      ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}),
    };
    return `RTSP/1.0 ${status}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
  };
  if (!request) return lines('400 Bad Request');
  // An HTTP probe on the RTSP port gets an RTSP answer: that is how discovery tells them apart.
  if (request.version !== 'RTSP/1.0') return lines('505 RTSP Version Not Supported');
  switch (request.method) {
    case 'OPTIONS':
      return lines('200 OK', { Public: PUBLIC_METHODS });
    case 'DESCRIBE': {
      if (options.credentials) {
        const given = parseBasicAuth(request.headers.get('authorization'));
        if (!given || !isAccepted(options.credentials, given.username, given.password)) {
          return lines('401 Unauthorized', { 'WWW-Authenticate': `Basic realm="${options.realm ?? 'IPCam'}"` });
        }
      }
      return lines('200 OK', { 'Content-Type': 'application/sdp', 'Content-Base': `${request.uri.replace(/\/?$/, '/')}` }, sdp(localAddress));
    }
    default:
      return lines('501 Not Implemented');
  }
}

/** Reads pipelined requests from one connection, with a cap on the bytes buffered. */
function serve(socket: Socket, options: RtspOptions): void {
  const cap = options.maxRequestBytes ?? 8192;
  let buffered = Buffer.alloc(0);
  let skipBody = 0;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (skipBody > 0) {
        const n = Math.min(skipBody, buffered.length);
        skipBody -= n;
        buffered = buffered.subarray(n);
        if (skipBody > 0) return;
      }
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > cap) socket.destroy();
        return;
      }
      if (end > cap) {
        socket.destroy();
        return;
      }
      const request = parseHead(buffered.subarray(0, end).toString('latin1'));
      buffered = buffered.subarray(end + 4);
      // A body (SET_PARAMETER, ANNOUNCE) is skipped, never buffered whole.
      const length = Number(request?.headers.get('content-length') ?? 0);
      skipBody = Number.isSafeInteger(length) && length > 0 ? length : 0;
      socket.write(respond(request, options, socket.localAddress ?? options.host));
    }
  });
}

/** An RTSP/1.0 camera stream endpoint: OPTIONS open, DESCRIBE behind Basic auth when configured. */
export function startRtspServer(options: RtspOptions): Promise<RunningServer> {
  const server = createServer((socket) => {
    dropOnError(socket, 'rtsp');
    socket.setTimeout(60_000, () => socket.destroy());
    serve(socket, options);
  });
  return listen(server, options);
}
