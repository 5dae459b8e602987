import { randomBytes } from 'node:crypto';

/**
 * A DTLS 1.2 ClientHello (RFC 6347) offering the PSK and ECDHE suites CoAP devices use, and the
 * classification of what comes back. A HelloVerifyRequest or ServerHello proves the port speaks DTLS
 * without completing a handshake.
 */

const PSK_AND_ECDHE_SUITES = [0xc0a8, 0x00a8, 0x00ae, 0xc0ae, 0xc02b, 0xc023, 0xc0ac, 0x008c];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

export function buildDtlsClientHello(): Buffer {
  const groups = [0x0017, 0x001d];
  const sigs = [0x0403, 0x0401];
  const extensions = Buffer.concat([
    u16(0x000a), u16(2 + groups.length * 2), u16(groups.length * 2), ...groups.map(u16),
    u16(0x000b), u16(2), Buffer.from([1, 0]),
    u16(0x000d), u16(2 + sigs.length * 2), u16(sigs.length * 2), ...sigs.map(u16),
  ]);
  const body = Buffer.concat([
    u16(0xfefd), // DTLS 1.2
    randomBytes(32),
    Buffer.from([0]), // session id
    Buffer.from([0]), // cookie
    u16(PSK_AND_ECDHE_SUITES.length * 2),
    ...PSK_AND_ECDHE_SUITES.map(u16),
    Buffer.from([1, 0]),
    u16(extensions.length),
    extensions,
  ]);
  // handshake: type, length, message_seq, fragment_offset, fragment_length
  const handshake = Buffer.concat([Buffer.from([1]), u24(body.length), u16(0), u24(0), u24(body.length), body]);
  // record: type, version (DTLS 1.0 in the record of a first hello), epoch, sequence(6), length
  return Buffer.concat([Buffer.from([22]), u16(0xfeff), u16(0), Buffer.alloc(6), u16(handshake.length), handshake]);
}

export type DtlsAnswer =
  | { kind: 'hello-verify' | 'server-hello'; version: number }
  | { kind: 'alert'; version: number; description: number }
  | { kind: 'not-dtls' };

export function parseDtlsAnswer(data: Buffer): DtlsAnswer {
  if (data.length < 13) return { kind: 'not-dtls' };
  const type = data[0];
  const version = data.readUInt16BE(1);
  if ((version & 0xff00) !== 0xfe00) return { kind: 'not-dtls' };
  if (type === 21) return { kind: 'alert', version, description: data[14] ?? 0 };
  if (type !== 22) return { kind: 'not-dtls' };
  const msg = data[13];
  if (msg === 3) return { kind: 'hello-verify', version };
  if (msg === 2) return { kind: 'server-hello', version };
  return { kind: 'not-dtls' };
}
