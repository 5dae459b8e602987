import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../harness/errors.js';
import { DEFAULT_TCP_PORTS, DEFAULT_UDP_PORTS, parseExcludePorts, parsePorts, subtractPorts } from '../../harness/ports.js';

describe('port lists', () => {
  it('default: a few hundred IoT TCP ports plus CoAP on UDP, never 2024', () => {
    expect(DEFAULT_TCP_PORTS.length).toBeGreaterThan(200);
    expect(DEFAULT_TCP_PORTS.length).toBeLessThan(600);
    for (const p of [22, 23, 80, 443, 554, 1883, 8883, 8443, 5555, 7547, 502, 37777]) expect(DEFAULT_TCP_PORTS).toContain(p);
    expect(DEFAULT_TCP_PORTS).not.toContain(2024);
    expect(DEFAULT_UDP_PORTS).toEqual([5683, 5684]);
    expect(parsePorts('default').tcp).toEqual(DEFAULT_TCP_PORTS);
  });

  it('parses ranges and nmap-style transport prefixes', () => {
    expect(parsePorts('22,80-82,U:5683,5684,T:443')).toEqual({ tcp: [22, 80, 81, 82, 443], udp: [5683, 5684] });
    const all = parsePorts('all');
    expect(all.tcp.length).toBe(65535);
    expect(all.udp).toEqual([5683, 5684]);
  });

  it('rejects bad lists naming the flag and the fix', () => {
    expect(() => parsePorts('22,70000')).toThrow(ConfigError);
    expect(() => parsePorts('22,70000')).toThrow(/--ports: "70000" is not a port or range; use numbers 1-65535/);
    expect(() => parsePorts('90-80')).toThrow(/"90-80"/);
    expect(() => parsePorts('http')).toThrow(/"http"/);
  });

  it('an excluded bare port is excluded on both transports', () => {
    const ex = parseExcludePorts('2024,5684');
    expect(ex).toEqual({ tcp: [2024, 5684], udp: [2024, 5684] });
    expect(subtractPorts(parsePorts('2020-2025,U:5683-5684'), ex)).toEqual({ tcp: [2020, 2021, 2022, 2023, 2025], udp: [5683] });
  });
});
