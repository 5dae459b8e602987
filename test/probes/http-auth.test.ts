import { describe, expect, it } from 'vitest';
import {
  basicAuthorization,
  choosePlan,
  describeChallenges,
  digestAuthorization,
  judgeAuthenticatedAnswer,
  NonceCounter,
  parseChallenges,
  toDigestChallenge,
  type DigestChallenge,
} from '../../probes/lib/http-auth.js';

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
const RFC7616 = {
  challenges: [
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  ],
  request: { method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle of Life', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', nc: 1 },
};

/** One parameter of an Authorization value. */
function param(header: string, name: string): string | undefined {
  const m = new RegExp(`[ ,]${name}=(?:"([^"]*)"|([^,\\s]+))`).exec(` ${header.replace(/^Digest /, '')}`);
  return m?.[1] ?? m?.[2];
}

function digest(header: string): DigestChallenge {
  const [challenge] = parseChallenges(header);
  const d = challenge && toDigestChallenge(challenge);
  if (!d) throw new Error(`not an answerable Digest challenge: ${header}`);
  return d;
}

describe('Digest responses', () => {
  it('SHA-256: the response of RFC 7616 §3.9.1, and its Authorization fields', () => {
    const header = digestAuthorization(digest(RFC7616.challenges[0] as string), RFC7616.request);
    expect(header).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", ' +
        'algorithm=SHA-256, qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", ' +
        'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  it('MD5: the response of RFC 7616 §3.9.1', () => {
    const header = digestAuthorization(digest(RFC7616.challenges[1] as string), RFC7616.request);
    expect(param(header, 'response')).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(param(header, 'algorithm')).toBe('MD5');
  });

  it('MD5 with qop=auth: the response of RFC 2617 §3.5', () => {
    const challenge = digest('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    const header = digestAuthorization(challenge, { method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle Of Life', cnonce: '0a4f113b', nc: 1 });
    expect(param(header, 'response')).toBe('6629fae49393a05397450978507c4ef1');
    expect(param(header, 'opaque')).toBe('5ccc069c403ebaf9f0171e9517f40e41');
  });

  it('MD5-sess folds nonce and cnonce into HA1 (RFC 2617 §3.2.2.2)', () => {
    // Worked out with md5sum: HA1 = MD5(MD5(Mufasa:testrealm@host.com:Circle Of Life):n:c),
    // response = MD5(HA1:n:00000001:c:auth:MD5(GET:/x)).
    const header = digestAuthorization(digest('Digest realm="testrealm@host.com", nonce="n", qop="auth", algorithm=MD5-sess'), {
      method: 'GET',
      uri: '/x',
      username: 'Mufasa',
      password: 'Circle Of Life',
      cnonce: 'c',
      nc: 1,
    });
    expect(param(header, 'algorithm')).toBe('MD5-sess');
    expect(param(header, 'response')).toBe('fe405a50ff7310ca4c629d53727ddb09');
  });

  it('RFC 2069 (no qop): no nc, no cnonce, response over HA1:nonce:HA2', () => {
    const header = digestAuthorization(digest('Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'), {
      method: 'GET',
      uri: '/dir/index.html',
      username: 'Mufasa',
      password: 'CircleOfLife',
    });
    // RFC 2069 §2.4's example request; response = MD5(HA1:nonce:HA2), worked out with md5sum.
    expect(param(header, 'response')).toBe('1949323746fe6a43ef61f9606e7febea');
    expect(header).not.toMatch(/\b(nc|cnonce|qop|algorithm)=/);
  });

  it('numbers requests per nonce, so a device with a fixed nonce never sees a replayed nc', () => {
    const counter = new NonceCounter();
    expect([counter.next('a'), counter.next('a'), counter.next('b'), counter.next('a')]).toEqual([1, 2, 1, 3]);
    const header = digestAuthorization(digest(RFC7616.challenges[1] as string), { ...RFC7616.request, nc: 26 });
    expect(param(header, 'nc')).toBe('0000001a');
  });

  it('escapes quotes in the username', () => {
    const header = digestAuthorization(digest('Digest realm="r", nonce="n", qop="auth"'), { method: 'GET', uri: '/', username: 'a"b\\c', password: 'p', cnonce: 'c' });
    expect(header).toContain('username="a\\"b\\\\c"');
  });
});

describe('Basic', () => {
  it('encodes user:password in base64 (RFC 7617 §2), UTF-8 for non-ASCII', () => {
    expect(basicAuthorization('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(basicAuthorization('test', '123£')).toBe('Basic dGVzdDoxMjPCow==');
    expect(basicAuthorization('admin', '')).toBe('Basic YWRtaW46');
  });
});

describe('challenge parsing', () => {
  it('keeps commas, equals signs and escaped quotes inside quoted values, and splits several challenges', () => {
    const challenges = parseChallenges('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="a, b=c", Digest realm="x", nonce="n,1", qop="auth,auth-int"');
    expect(challenges).toEqual([
      { scheme: 'Newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'Basic', params: { realm: 'a, b=c' } },
      { scheme: 'Digest', params: { realm: 'x', nonce: 'n,1', qop: 'auth,auth-int' } },
    ]);
  });

  it('reads token68 schemes, bare schemes and several header lines', () => {
    expect(parseChallenges(['Negotiate YIIB==, NTLM', 'Basic realm=cam'])).toEqual([
      { scheme: 'Negotiate', params: {}, token68: 'YIIB==' },
      { scheme: 'NTLM', params: {} },
      { scheme: 'Basic', params: { realm: 'cam' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });

  it('takes parameter names case-insensitively and survives a truncated header', () => {
    expect(parseChallenges('DIGEST Realm="r", NONCE=abc, Stale=TRUE')[0]?.params).toEqual({ realm: 'r', nonce: 'abc', stale: 'TRUE' });
    expect(parseChallenges('Digest realm="unterminated')).toEqual([{ scheme: 'Digest', params: { realm: 'unterminated' } }]);
    expect(toDigestChallenge({ scheme: 'DIGEST', params: { realm: 'r', nonce: 'abc', stale: 'TRUE', algorithm: 'sha-256' } })).toMatchObject({ algorithm: 'SHA-256', stale: true, qop: [] });
  });

  it('answers only what it can: no nonce, an unknown algorithm or an auth-less qop are refused', () => {
    expect(toDigestChallenge({ scheme: 'Digest', params: { realm: 'r' } })).toBeUndefined();
    expect(toDigestChallenge({ scheme: 'Digest', params: { realm: 'r', nonce: 'n', algorithm: 'SHA3-256' } })).toBeUndefined();
    expect(toDigestChallenge({ scheme: 'Digest', params: { realm: 'r', nonce: 'n', qop: 'auth-conf' } })).toBeUndefined();
    expect(toDigestChallenge({ scheme: 'Basic', params: { realm: 'r' } })).toBeUndefined();
  });

  it('prefers Digest over Basic whatever the order, and the first Digest it can answer', () => {
    expect(choosePlan(parseChallenges('Basic realm="b", Digest realm="d", nonce="n", algorithm=SHA3-256, Digest realm="d", nonce="n", algorithm=SHA-256'))).toMatchObject({
      scheme: 'Digest',
      challenge: { algorithm: 'SHA-256' },
    });
    expect(choosePlan(parseChallenges('NTLM, Basic realm="b"'))).toEqual({ scheme: 'Basic', realm: 'b' });
    expect(choosePlan(parseChallenges('NTLM, Negotiate'))).toBeUndefined();
    expect(describeChallenges(parseChallenges('Digest nonce=n, Digest nonce=n, algorithm=SHA-256, Basic'))).toEqual(['Digest MD5', 'Digest SHA-256', 'Basic']);
  });
});

describe('judging an answer to credentials', () => {
  it.each([
    [200, '', undefined, { outcome: 'accepted' }],
    [302, '', '/index.html', { outcome: 'accepted' }],
    [302, '', '/login.html?error=1', { outcome: 'rejected' }],
    [401, 'Unauthorized', undefined, { outcome: 'rejected' }],
    [401, 'Unauthorized <p>Account locked for 30 minutes</p>', undefined, { outcome: 'locked' }],
    [403, 'Forbidden', undefined, { outcome: 'locked' }],
    [429, 'Too Many Requests', undefined, { outcome: 'locked' }],
    [503, 'Service Unavailable', undefined, { outcome: 'unavailable' }],
    [400, 'Bad Request', undefined, { outcome: 'unavailable' }],
  ] as const)('%i %s (Location %s) → %o', (status, text, location, expected) => {
    expect(judgeAuthenticatedAnswer(status, text, location)).toMatchObject(expected);
  });
});
