/**
 * The few MQTT bytes discovery needs: an anonymous MQTT 3.1.1 CONNECT and the CONNACK it gets.
 * MQTT 5 brokers answer a 3.1.1 CONNECT in 3.1.1, so one hello identifies both.
 */

/** An MQTT UTF-8 string: two length bytes, then the bytes. */
export function mqttString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** MQTT's variable-length integer (remaining length, property lengths). */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** CONNECT, protocol level 4 (3.1.1), clean session, keep-alive 10 s, optional username/password. */
export function buildConnect(clientId: string, auth?: { username: string; password?: string }): Buffer {
  let flags = 0x02;
  const payload = [mqttString(clientId)];
  if (auth) {
    flags |= 0x80;
    payload.push(mqttString(auth.username));
    if (auth.password !== undefined) {
      flags |= 0x40;
      payload.push(mqttString(auth.password));
    }
  }
  const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([4, flags, 0, 10])]);
  const body = Buffer.concat([variable, ...payload]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** DISCONNECT: leave politely after a CONNACK 0. */
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

export interface Connack {
  sessionPresent: boolean;
  /** 3.1.1 return code, or MQTT 5 reason code. */
  code: number;
}

/** Parse a CONNACK (3.1.1: 4 bytes; MQTT 5: longer, with properties). */
export function parseConnack(data: Buffer): Connack | undefined {
  if (data.length < 4 || data[0] !== 0x20) return undefined;
  const len = data[1] ?? 0;
  if (len < 2 || len > 127) return undefined;
  const flags = data[2] ?? 0xff;
  if ((flags & 0xfe) !== 0) return undefined;
  return { sessionPresent: (flags & 1) === 1, code: data[3] ?? 0 };
}

export function connackComplete(data: Buffer): boolean {
  return data.length >= 4 || (data.length > 0 && data[0] !== 0x20);
}

/** Human text for 3.1.1 return codes and the MQTT 5 reason codes brokers use for CONNECT. */
export function connackMeaning(code: number): string {
  const names: Record<number, string> = {
    0: 'accepted',
    1: 'unacceptable protocol version',
    2: 'identifier rejected',
    3: 'server unavailable',
    4: 'bad user name or password',
    5: 'not authorized',
    128: 'unspecified error',
    132: 'unsupported protocol version',
    134: 'bad user name or password',
    135: 'not authorized',
  };
  return names[code] ?? `code ${code}`;
}
