import { Aedes, type AuthenticateError } from 'aedes';
import type { EventEmitter } from 'node:events';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureVersion } from 'node:tls';
import { isAccepted, Lockout, type LockoutPolicy, type Credential } from './credentials.js';
import { debug, dropOnError, listen, type ListenOptions, type RunningServer } from './listen.js';

export interface MqttOptions extends ListenOptions {
  /**
   * Accounts allowed to connect. Omit to let anyone connect without credentials (and to accept any
   * credentials a client sends, as an unconfigured mosquitto does).
   */
  credentials?: readonly Credential[];
  /** Serve MQTT over TLS (MQTTS) with this PEM key and certificate instead of plain TCP. */
  tls?: { key: string; cert: string; minVersion?: SecureVersion };
  /**
   * Retained messages published at start, so that a client subscribing to `#` sees the device's
   * traffic at once instead of waiting for the next telemetry tick.
   */
  retained?: readonly { topic: string; payload: string }[];
  /**
   * Brute-force protection: after `afterFailures` wrong passwords for one of the broker's own
   * usernames, refuse that username for `forMs`, even with the right password, answering CONNACK 3
   * (server unavailable). Usernames the broker does not have are never locked (there is no account
   * to protect), so a sweep of other vendors' defaults runs to its end and only a guesser at a real
   * account meets the lock. This also keeps the failure table as small as the account list.
   */
  lockout?: LockoutPolicy;
}

// CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3), which aedes passes through from `authenticate`.
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

function authError(message: string, returnCode: typeof BAD_USERNAME_OR_PASSWORD | typeof NOT_AUTHORIZED | typeof SERVER_UNAVAILABLE): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

function publishRetained(broker: Aedes, topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false }, (err) =>
      err ? reject(new Error(`mqtt: cannot publish retained ${topic}`, { cause: err })) : resolve(),
    );
  });
}

/**
 * An MQTT 3.1.1 broker (aedes), plain or over TLS. Without credentials configured it is the classic
 * open broker; with them, a CONNECT without a username gets return code 5 (not authorized) and a
 * wrong pair gets 4 (bad username or password).
 */
export async function startMqttServer(options: MqttOptions): Promise<RunningServer> {
  const { credentials } = options;
  const lockout = new Lockout(options.lockout, credentials ?? []);
  const broker = await Aedes.createBroker({
    // A half-open client must not hold a lab device's slot for aedes' default 30 s.
    connectTimeout: 10_000,
    authenticate(_client, username, password, done) {
      if (!credentials) return done(null, true);
      if (username === undefined || password === undefined) return done(authError('credentials required', NOT_AUTHORIZED), false);
      if (lockout.lockedFor(username) > 0) return done(authError('locked out: too many failed logins', SERVER_UNAVAILABLE), false);
      if (!isAccepted(credentials, username, password.toString('utf8'))) {
        lockout.failed(username);
        return done(authError('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
      }
      lockout.succeeded(username);
      return done(null, true);
    },
  });
  broker.on('clientError', (client, err) => debug('mqtt: client %s: %s', client.id, err.message));
  broker.on('connectionError', (_client, err) => debug('mqtt: connection: %s', err.message));
  // aedes emits 'error' from its background will-cleanup timer; unheard, that would crash the lab.
  // Its typings list only client events, hence the plain EventEmitter view.
  const events: EventEmitter = broker;
  events.on('error', (err: Error) => debug('mqtt: broker: %s', err.message));

  const closeBroker = (): Promise<void> => new Promise((resolve) => broker.close(() => resolve()));
  try {
    for (const message of options.retained ?? []) await publishRetained(broker, message.topic, message.payload);
  } catch (error) {
    await closeBroker();
    throw error;
  }

  const handle = (socket: Socket): void => {
    broker.handle(socket);
  };
  const server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert, minVersion: options.tls.minVersion ?? 'TLSv1.2' }, handle)
    : createNetServer(handle);
  server.on('connection', (socket: Socket) => dropOnError(socket, options.tls ? 'mqtts' : 'mqtt'));
  if (options.tls) server.on('tlsClientError', (err: Error) => debug('mqtts: handshake refused: %s', err.message));
  return listen(server, options, closeBroker);
}
