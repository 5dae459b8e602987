import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CIPHER_SUITES,
  MODERN_CLIENT_SUITES,
  MODERN_TLS13_SUITES,
  SSL2_ALL_KINDS,
  SSL2_CIPHER_KINDS,
  TLS13_SUITES,
  VERSION_PROBE_SUITES,
  WEAK_CLASSES,
  WEAK_CLASS_NAMES,
  isTls12Only,
  suiteName,
  weakClassesOf,
} from '../../probes/wire/cipher-suites.js';
import { buildSsl2ClientHello, buildSsl2Error, buildSsl2ServerHello, parseSsl2Answer, parseSsl2ClientHello, ssl2AnswerComplete } from '../../probes/wire/ssl2.js';
import {
  HELLO_RETRY_RANDOM,
  broadClientHello,
  parseServerAnswer,
  parseServerFlight,
  parseServerHelloBody,
  serverFlightComplete,
  tlsRecordComplete,
  versionClientHello,
  type HelloVersion,
} from '../../probes/wire/tls.js';
import { alertRecord, certificateMessage, parseClientHello, records, serverHelloDoneMessage, serverHelloMessage } from '../fixtures/tls-responders.js';

const CERT_A = randomBytes(700);
const CERT_B = randomBytes(1200);

/** A TLS 1.2 server's first flight: ServerHello, Certificate (two certs), ServerHelloDone. */
function flight12(fragment?: number): Buffer {
  const hs = Buffer.concat([serverHelloMessage({ version: 0x0303, cipher: 0xc02f }), certificateMessage([CERT_A, CERT_B]), serverHelloDoneMessage()]);
  return records(22, 0x0303, hs, fragment);
}

/** Calls every parser on `data`; any throw fails the test that uses it. */
function parseAll(data: Buffer): void {
  parseServerFlight(data);
  serverFlightComplete(data);
  parseServerAnswer(data);
  tlsRecordComplete(data);
  parseServerHelloBody(data);
  parseSsl2Answer(data);
  ssl2AnswerComplete(data);
}

describe('cipher suite table', () => {
  it('names every suite the scanner can offer', () => {
    const offered = [...VERSION_PROBE_SUITES, ...MODERN_CLIENT_SUITES, ...MODERN_TLS13_SUITES, ...TLS13_SUITES, ...WEAK_CLASS_NAMES.flatMap((c) => WEAK_CLASSES[c])];
    for (const code of offered) expect(CIPHER_SUITES.get(code), `0x${code.toString(16)}`).toMatch(/^TLS_/);
    for (const kind of SSL2_ALL_KINDS) expect(SSL2_CIPHER_KINDS.get(kind)).toMatch(/^SSL_CK_/);
    expect(suiteName(0xc02f)).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    expect(suiteName(0x0700c0)).toBe('SSL_CK_DES_192_EDE3_CBC_WITH_MD5');
    expect(suiteName(0x1234)).toBe('0x1234');
  });

  it('keeps the version-probe list under 128 distinct suites', () => {
    expect(new Set(VERSION_PROBE_SUITES).size).toBe(VERSION_PROBE_SUITES.length);
    expect(VERSION_PROBE_SUITES.length).toBeLessThan(128);
  });

  it('sorts suites into the weak classes by what they are', () => {
    expect(weakClassesOf(0x0001)).toEqual(['NULL']); // RSA_WITH_NULL_MD5
    expect(weakClassesOf(0x003b)).toEqual(['NULL']); // RSA_WITH_NULL_SHA256
    expect(weakClassesOf(0xc010)).toEqual(['NULL']); // ECDHE_RSA_WITH_NULL_SHA
    expect(weakClassesOf(0xc015)).toEqual(['NULL', 'anonymous']); // ECDH_anon_WITH_NULL_SHA
    expect(weakClassesOf(0x0003)).toEqual(['EXPORT', 'RC4']); // RSA_EXPORT_WITH_RC4_40_MD5
    expect(weakClassesOf(0x0014)).toEqual(['EXPORT', 'DES/3DES']); // DHE_RSA_EXPORT_WITH_DES40_CBC_SHA
    expect(weakClassesOf(0x0062)).toEqual(['EXPORT', 'DES/3DES']); // RSA_EXPORT1024_WITH_DES_CBC_SHA
    expect(weakClassesOf(0x0034)).toEqual(['anonymous']); // DH_anon_WITH_AES_128_CBC_SHA
    expect(weakClassesOf(0x0005)).toEqual(['RC4']);
    expect(weakClassesOf(0x000a)).toEqual(['DES/3DES']);
    expect(weakClassesOf(0x0009)).toEqual(['DES/3DES']);
    expect(weakClassesOf(0xc012)).toEqual(['DES/3DES']);
    expect(weakClassesOf(0x001b)).toEqual(['anonymous', 'DES/3DES']);
    for (const strong of [0x002f, 0xc02f, 0xcca8, 0x1301, 0x009e, 0xc0ae]) expect(weakClassesOf(strong)).toEqual([]);
    expect(weakClassesOf(0x020080)).toEqual(['EXPORT', 'RC4']);
    expect(weakClassesOf(0x0700c0)).toEqual(['DES/3DES']);
  });

  it('knows which suites need TLS 1.2', () => {
    expect([0xc02f, 0x003b, 0xc0ae, 0xcca8, 0x003c].every(isTls12Only)).toBe(true);
    expect([0x002f, 0x000a, 0x0005, 0xc013, 0x0003].some(isTls12Only)).toBe(false);
  });
});

describe('per-version ClientHello', () => {
  const get = (version: HelloVersion) => {
    const hello = versionClientHello(version, { serverName: 'cam.local' });
    const parsed = parseClientHello(hello);
    if (!parsed) throw new Error(`${version} hello does not parse`);
    return { hello, parsed };
  };

  it('SSLv3: version 0x0300 in record and hello, no extensions, no TLS 1.2 suites, renegotiation SCSV', () => {
    const { parsed } = get('SSLv3');
    expect(parsed.recordVersion).toBe(0x0300);
    expect(parsed.clientVersion).toBe(0x0300);
    expect(parsed.extensions).toBeUndefined();
    expect(parsed.ciphers.some(isTls12Only)).toBe(false);
    expect(parsed.ciphers).toContain(0x00ff);
    expect(parsed.ciphers).toContain(0x000a);
    expect(parsed.compressions).toEqual([0]);
  });

  it('TLS 1.0 and 1.1: SNI, groups, point formats, no signature_algorithms or supported_versions', () => {
    for (const [version, number] of [['TLSv1.0', 0x0301], ['TLSv1.1', 0x0302]] as const) {
      const { parsed } = get(version);
      expect(parsed.recordVersion).toBe(0x0301);
      expect(parsed.clientVersion).toBe(number);
      expect([...(parsed.extensions?.keys() ?? [])].filter((t) => t !== 0x0015)).toEqual([0x0000, 0x000a, 0x000b]);
      expect(parsed.extensions?.get(0x0000)?.toString('latin1')).toContain('cam.local');
      expect(parsed.ciphers.some(isTls12Only)).toBe(false);
      expect(parsed.ciphers.some((c) => TLS13_SUITES.includes(c))).toBe(false);
    }
  });

  it('TLS 1.2: signature_algorithms, AEAD suites, still no supported_versions', () => {
    const { parsed } = get('TLSv1.2');
    expect(parsed.clientVersion).toBe(0x0303);
    expect(parsed.extensions?.has(0x000d)).toBe(true);
    expect(parsed.extensions?.has(0x002b)).toBe(false);
    expect(parsed.ciphers).toContain(0xc02f);
    expect(parsed.ciphers.some((c) => TLS13_SUITES.includes(c))).toBe(false);
    // The retry for extension-intolerant stacks: same version, no extensions block at all.
    const bare = parseClientHello(versionClientHello('TLSv1.2', { extensions: false }));
    expect(bare?.clientVersion).toBe(0x0303);
    expect(bare?.extensions).toBeUndefined();
  });

  it('TLS 1.3: legacy_version 0x0303, supported_versions [0x0304], an x25519 key share, TLS 1.3 suites only', () => {
    const { parsed } = get('TLSv1.3');
    expect(parsed.recordVersion).toBe(0x0301);
    expect(parsed.clientVersion).toBe(0x0303);
    expect(parsed.sessionId.length).toBe(32);
    expect(parsed.extensions?.get(0x002b)).toEqual(Buffer.from([2, 0x03, 0x04]));
    const shares = parsed.extensions?.get(0x0033);
    expect(shares?.readUInt16BE(0)).toBe(36);
    expect(shares?.readUInt16BE(2)).toBe(0x001d);
    expect(shares?.readUInt16BE(4)).toBe(32);
    expect(parsed.ciphers).toEqual(TLS13_SUITES);
    const withP256 = parseClientHello(versionClientHello('TLSv1.3', { keyShares: ['x25519', 'secp256r1'] }));
    // x25519 (2+2+32) then secp256r1 (2+2+65, an uncompressed point)
    expect(withP256?.extensions?.get(0x0033)?.readUInt16BE(0)).toBe(36 + 69);
  });

  it('never produces a hello of 256-511 bytes (old F5 terminators hang on those)', () => {
    for (const version of ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const) {
      for (const ciphers of [undefined, [0x002f], WEAK_CLASSES.anonymous, VERSION_PROBE_SUITES.slice(0, 60)]) {
        const hello = versionClientHello(version, ciphers ? { ciphers } : {});
        const handshakeLength = hello.length - 5;
        if (version !== 'SSLv3') expect(handshakeLength <= 0xff || handshakeLength >= 0x200, `${version} ${handshakeLength}`).toBe(true);
        expect(parseClientHello(hello)).toBeDefined();
      }
    }
  });

  it('keeps the broad discovery hello as it was: TLS 1.0 to 1.3 in supported_versions', () => {
    const parsed = parseClientHello(broadClientHello());
    expect(parsed?.extensions?.get(0x002b)).toEqual(Buffer.from([8, 3, 4, 3, 3, 3, 2, 3, 1]));
  });
});

describe('SSLv2', () => {
  it('builds a CLIENT-HELLO: 2-byte header with the high bit, type 1, version 0x0002, 3-byte kinds, challenge', () => {
    const hello = buildSsl2ClientHello({ kinds: [0x010080, 0x0700c0], challenge: Buffer.alloc(16, 7) });
    expect(hello[0]! & 0x80).toBe(0x80);
    expect(((hello[0]! & 0x7f) << 8) | hello[1]!).toBe(hello.length - 2);
    expect(hello[2]).toBe(1);
    expect(hello.readUInt16BE(3)).toBe(0x0002);
    expect(hello.readUInt16BE(5)).toBe(6);
    expect(parseSsl2ClientHello(hello)).toEqual({ version: 2, kinds: [0x010080, 0x0700c0], challenge: Buffer.alloc(16, 7) });
  });

  it('parses a SERVER-HELLO with its certificate and cipher kinds', () => {
    const answer = buildSsl2ServerHello({ certificate: CERT_A, kinds: [0x020080, 0x060040] });
    expect(ssl2AnswerComplete(answer)).toBe(true);
    expect(ssl2AnswerComplete(answer.subarray(0, answer.length - 1))).toBe(false);
    const parsed = parseSsl2Answer(answer);
    expect(parsed).toMatchObject({ kind: 'server-hello', version: 2, certificateType: 1, sessionIdHit: false, cipherSpecs: [0x020080, 0x060040] });
    expect(parsed.kind === 'server-hello' && parsed.certificate?.equals(CERT_A)).toBe(true);
    for (let cut = 0; cut < answer.length; cut++) expect(parseSsl2Answer(answer.subarray(0, cut)).kind).toBe('incomplete');
  });

  it('parses an ERROR, and tells a TLS alert from SSLv2', () => {
    expect(parseSsl2Answer(buildSsl2Error(1))).toEqual({ kind: 'error', code: 1 });
    const alert = alertRecord(40);
    expect(parseSsl2Answer(alert)).toEqual({ kind: 'not-ssl2' });
    expect(ssl2AnswerComplete(alert)).toBe(true);
    expect(ssl2AnswerComplete(alert.subarray(0, 6))).toBe(false);
    expect(parseSsl2Answer(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toEqual({ kind: 'not-ssl2' });
  });

  it('rejects a SERVER-HELLO whose lengths do not add up', () => {
    const answer = Buffer.from(buildSsl2ServerHello({ certificate: CERT_A, kinds: [0x010080] }));
    answer.writeUInt16BE(CERT_A.length + 1, 2 + 5); // certificate length one byte too long
    expect(parseSsl2Answer(answer)).toEqual({ kind: 'not-ssl2' });
  });
});

describe('server flight', () => {
  it('reads ServerHello, the certificate chain and ServerHelloDone from one record', () => {
    const flight = parseServerFlight(flight12());
    expect(flight.serverHello).toMatchObject({ version: 0x0303, cipher: 0xc02f, helloRetry: false });
    expect(flight.certificates).toEqual([CERT_A, CERT_B]);
    expect(flight.messages).toEqual([2, 11, 14]);
    expect(flight.complete).toBe(true);
  });

  it('reassembles messages split across many records, and is complete only when ServerHelloDone is in', () => {
    const bytes = flight12(7);
    const whole = parseServerFlight(bytes);
    expect(whole.certificates).toEqual([CERT_A, CERT_B]);
    expect(whole.complete).toBe(true);
    // Every prefix is a read that stopped early: never a throw, never "complete" too soon.
    for (let cut = 0; cut < bytes.length; cut += 1) {
      const partial = parseServerFlight(bytes.subarray(0, cut));
      expect(partial.complete).toBe(false);
      expect(partial.isTls).toBe(true);
    }
  });

  it('stops at an alert, and at a TLS 1.3 ServerHello', () => {
    const alert = parseServerFlight(alertRecord(70));
    expect(alert).toMatchObject({ alert: { level: 2, description: 70 }, complete: true });
    const sh13 = records(22, 0x0303, serverHelloMessage({ version: 0x0303, cipher: 0x1302, extensions: [[0x002b, Buffer.from([3, 4])]] }));
    expect(parseServerFlight(sh13)).toMatchObject({ serverHello: { version: 0x0304, legacyVersion: 0x0303, cipher: 0x1302 }, complete: true });
  });

  it('recognises a HelloRetryRequest, in the flight parser and in the discovery parser', () => {
    const hrr = records(22, 0x0303, serverHelloMessage({ version: 0x0303, cipher: 0x1301, random: HELLO_RETRY_RANDOM, extensions: [[0x002b, Buffer.from([3, 4])], [0x0033, Buffer.from([0, 0x18])]] }));
    expect(parseServerFlight(hrr)).toMatchObject({ serverHello: { helloRetry: true, version: 0x0304 }, complete: true });
    expect(parseServerAnswer(hrr)).toEqual({ kind: 'server-hello', recordVersion: 0x0303, version: 0x0304, cipher: 0x1301, helloRetry: true });
    expect(HELLO_RETRY_RANDOM.toString('hex')).toBe('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');
  });

  it('reads the TLS 1.3 downgrade marker', () => {
    const random = Buffer.concat([randomBytes(24), Buffer.from('DOWNGRD\x01', 'latin1')]);
    const flight = parseServerFlight(records(22, 0x0303, serverHelloMessage({ version: 0x0303, cipher: 0xc02f, random })));
    expect(flight.serverHello?.downgrade).toBe('TLSv1.2');
  });

  it('says "not TLS" for text', () => {
    expect(parseServerFlight(Buffer.from('SSH-2.0-dropbear\r\n'))).toMatchObject({ isTls: false, complete: true });
    expect(parseServerAnswer(Buffer.from('SSH-2.0-dropbear\r\n'))).toEqual({ kind: 'not-tls' });
  });
});

describe('parsers on hostile input', () => {
  it('never throw on random bytes, on random bytes behind a TLS or SSLv2 header, or on mutated flights', () => {
    const valid = [flight12(), flight12(5), buildSsl2ServerHello({ certificate: CERT_A, kinds: [0x010080] }), alertRecord(40)];
    for (let i = 0; i < 3000; i += 1) {
      const noise = randomBytes(Math.floor(Math.random() * 700));
      parseAll(noise);
      parseAll(Buffer.concat([Buffer.from([22, 3, i % 5]), noise]));
      parseAll(Buffer.concat([Buffer.from([21, 3, 1]), noise]));
      parseAll(Buffer.concat([Buffer.from([0x80 | (i % 0x80)]), noise]));
      const mutated = Buffer.from(valid[i % valid.length]!);
      for (let k = 0; k < 4; k += 1) mutated[Math.floor(Math.random() * mutated.length)] = Math.floor(Math.random() * 256);
      parseAll(mutated);
      parseAll(mutated.subarray(0, Math.floor(Math.random() * mutated.length)));
    }
  });

  it('read a ServerHello cut at every byte, extensions included, without reading past the end', () => {
    const message = serverHelloMessage({ version: 0x0303, cipher: 0x1301, extensions: [[0x0033, randomBytes(36)], [0x002b, Buffer.from([3, 4])]] });
    const body = message.subarray(4);
    expect(parseServerHelloBody(body)).toMatchObject({ version: 0x0304, extensions: [0x0033, 0x002b] });
    for (let cut = 0; cut < body.length; cut += 1) {
      const hello = parseServerHelloBody(body.subarray(0, cut));
      // Cut inside supported_versions: the version it names is not there to read.
      if (hello) expect(hello.version).toBe(0x0303);
    }
  });

  it('handle truncated records: incomplete, not an error', () => {
    const bytes = flight12();
    expect(parseServerAnswer(bytes.subarray(0, 3))).toEqual({ kind: 'incomplete' });
    expect(tlsRecordComplete(bytes.subarray(0, 60))).toBe(false);
    expect(serverFlightComplete(bytes.subarray(0, bytes.length - 1))).toBe(false);
    expect(parseServerFlight(bytes.subarray(0, 5 + 4 + 70)).serverHello).toMatchObject({ cipher: 0xc02f });
  });

  it('read a 1 MB alert-looking record in bounded time without copying it', () => {
    const huge = Buffer.concat([Buffer.from([21, 3, 3, 0xff, 0xff, 2, 40]), randomBytes(1024 * 1024)]);
    const started = performance.now();
    const flight = parseServerFlight(huge);
    parseAll(huge);
    expect(flight).toMatchObject({ alert: { level: 2, description: 40 }, complete: true, messages: [] });
    expect(parseServerAnswer(huge)).toMatchObject({ kind: 'alert', description: 40 });
    // A deadline against a runaway loop, not a speed test.
    expect(performance.now() - started).toBeLessThan(2000);
    const handshakeFlood = Buffer.concat([Buffer.from([22, 3, 3, 0xff, 0xff]), randomBytes(1024 * 1024)]);
    const junk = parseServerFlight(handshakeFlood);
    expect(junk.certificates?.length ?? 0).toBeLessThanOrEqual(16);
  });
});
