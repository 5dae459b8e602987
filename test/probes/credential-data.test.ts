import { describe, expect, it } from 'vitest';
import { builtinCredentialLists, loadCredentialList, resolveCredentials } from '../../probes/lib/credentials.js';

const PROTOCOLS = new Set(['telnet', 'ssh', 'http', 'https', 'ftp', 'rtsp', 'mqtt', 'snmp']);
const key = (c: { username: string; password: string }): string => `${c.username}\u0000${c.password}`;

describe('built-in credential data (probes/data)', () => {
  it('mirai is the 62-pair table of scanner.c, in source order, decoded from the bytes', () => {
    const { entries } = loadCredentialList('mirai');
    expect(entries).toHaveLength(62);
    expect(entries[0]).toMatchObject({ username: 'root', password: 'xc3511' });
    expect(entries).toContainEqual(expect.objectContaining({ username: 'root', password: '' }));
    expect(entries).toContainEqual(expect.objectContaining({ username: 'mother', password: 'fucker' }));
    // Where the plaintext comment in scanner.c disagrees with the obfuscated bytes, the bytes win.
    expect(entries[26]).toMatchObject({ username: 'Administrator', password: 'meinsm' });
    expect(entries[57]).toMatchObject({ username: 'admin', password: '4321' });
    // The source lists guest/12345 twice; the list keeps both.
    expect(entries.filter((e) => e.username === 'guest' && e.password === '12345')).toHaveLength(2);
    // Values stay strings even where YAML would read a number.
    for (const e of entries) {
      expect(typeof e.username).toBe('string');
      expect(typeof e.password).toBe('string');
    }
  });

  it('every list validates, and every entry names a source (its own or the list\'s)', () => {
    const ids = builtinCredentialLists();
    expect(ids).toEqual(expect.arrayContaining(['mirai', 'vendors']));
    for (const id of ids) {
      const list = loadCredentialList(id);
      expect(list.id, id).toBe(id);
      for (const [i, e] of list.entries.entries()) {
        expect(e.source ?? list.source, `${id} entries[${i}]`).toBeTruthy();
        for (const p of e.protocols ?? []) expect(PROTOCOLS.has(p), `${id} entries[${i}] protocol ${p}`).toBe(true);
      }
    }
  });

  it('vendors: every entry names a vendor and its own source', () => {
    const { entries } = loadCredentialList('vendors');
    expect(entries.length).toBeGreaterThanOrEqual(60);
    expect(entries.length).toBeLessThanOrEqual(120);
    for (const [i, e] of entries.entries()) {
      expect(e.vendor?.trim(), `vendors entries[${i}]`).toBeTruthy();
      expect(e.source?.trim(), `vendors entries[${i}]`).toBeTruthy();
    }
  });

  it('resolveCredentials drops duplicates, keeping the first list that names a pair', () => {
    const mirai = loadCredentialList('mirai').entries;
    const vendors = loadCredentialList('vendors').entries;
    const resolved = resolveCredentials(['mirai', 'vendors']);
    const keys = resolved.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(resolved).toHaveLength(new Set([...mirai, ...vendors].map(key)).size);
    // Every Mirai pair comes first and is credited to mirai, even where a vendor documents it too.
    const miraiKeys = new Set(mirai.map(key));
    expect(resolved.slice(0, miraiKeys.size).every((c) => c.source === 'mirai')).toBe(true);
    expect(resolved.find((c) => c.username === 'admin' && c.password === 'admin')?.source).toBe('mirai');
    expect(resolved.filter((c) => c.username === 'guest' && c.password === '12345')).toHaveLength(1);
    // A pair only vendors names is credited to vendors.
    expect(resolved.find((c) => c.username === 'root' && c.password === 'dbps')?.source).toBe('vendors');
    // Order reversed: the shared pair is now credited to vendors.
    expect(resolveCredentials(['vendors', 'mirai']).find((c) => c.username === 'admin' && c.password === 'admin')?.source).toBe('vendors');
  });

  it('resolveCredentials for one protocol leaves out entries limited to other protocols', () => {
    const entries = loadCredentialList('vendors').entries;
    const rtsp = resolveCredentials(['vendors'], 'rtsp');
    const expected = new Set(entries.filter((e) => !e.protocols || e.protocols.includes('rtsp')).map(key));
    expect(new Set(rtsp.map(key))).toEqual(expected);
    expect(rtsp.length).toBeLessThan(new Set(entries.map(key)).size);
    // Documented for the web interface only, or for SSH only: not tried on RTSP.
    expect(rtsp.find((c) => c.username === 'root' && c.password === 'dbps')).toBeUndefined();
    expect(rtsp.find((c) => c.username === 'telecomadmin' && c.password === 'admintelecom')).toBeUndefined();
    // A device's general login (no protocols) is tried on every service.
    expect(rtsp.find((c) => c.username === 'admin' && c.password === '12345')).toBeDefined();
    // The same entry is kept for the service it is documented for.
    expect(resolveCredentials(['vendors'], 'http').find((c) => c.username === 'root' && c.password === 'dbps')).toBeDefined();
  });
});
