import { LabError } from './errors.js';
import type { RunningServer } from './servers/listen.js';

/** One service a lab device exposes, as bound. */
export interface LabService {
  /**
   * Protocol name as harness discovery reports it, TLS included in the name where it has one:
   * `telnet`, `ssh`, `http`, `https`, `rtsp`, `mqtt`, `mqtts`, `coap`, `coaps`.
   */
  protocol: string;
  transport: 'tcp' | 'udp';
  /** The port actually bound. */
  port: number;
  /** Where a real device would listen (23 for telnet): differs from `port` when that was taken or privileged. */
  standardPort: number;
  /** Whether the service speaks TLS (or DTLS) from the first byte (HTTPS, MQTTS, CoAPS). */
  tls: boolean;
  /** What the service is there to teach, e.g. `undeclared; Mirai default root/xc3511`. */
  note?: string;
}

/**
 * How a device is built: `weak` the way cheap devices ship (each weak point documented), `hardened`
 * the way EN 303 645 asks. Flipping one device between the two and re-running is a workshop exercise.
 */
export type DeviceMode = 'weak' | 'hardened';

export const DEVICE_MODES: readonly DeviceMode[] = ['weak', 'hardened'];

/** A simulated device whose servers are listening. */
export interface RunningDevice {
  /** Kebab-case device id, e.g. `camera`; the same in both modes, so `iot-harness diff` pairs the runs. */
  id: string;
  mode: DeviceMode;
  /** What it is and how it is built, e.g. `IP camera (weak: busybox firmware, factory defaults)`. */
  title: string;
  /** The loopback address every service of this device listens on. */
  address: string;
  services: LabService[];
  /** The weak points built in on purpose, one sentence each. */
  weaknesses: string[];
  /** Absolute path of the declaration (ICS/IXIT) YAML written for this run. */
  declarationPath: string;
  /** Closes every server of the device and drops its connections. */
  stop(): Promise<void>;
}

/** What a device needs from the fleet to start. */
export interface DeviceContext {
  /** Loopback address to bind every service to. */
  address: string;
  /** Folder for the declaration and any PEM files it references. */
  dir: string;
  /** Ports never to bind (the user's `--exclude-ports`); 2024 is always excluded on top. */
  excludePorts: readonly number[];
  /** Which build of the device to start. */
  mode: DeviceMode;
}

/** One build of a device kind. */
export interface DeviceBuild {
  /** Full title, e.g. `IP camera (weak: busybox firmware, factory defaults)`. */
  title: string;
  /** The weak points (or, hardened, the residual ones), one sentence each; also in docs/lab.md. */
  weaknesses: readonly string[];
}

/** A device kind the lab can start, in either mode: plain data plus one start function. */
export interface DeviceDefinition {
  /** Kebab-case id, e.g. `camera`. */
  id: string;
  /** The kind, e.g. `IP camera`. */
  kind: string;
  /** The mode the fleet starts it in unless told otherwise. */
  defaultMode: DeviceMode;
  modes: Readonly<Record<DeviceMode, DeviceBuild>>;
  start(context: DeviceContext): Promise<RunningDevice>;
}

/**
 * Where each protocol goes: its standard port, then the high port a non-root lab uses (DESIGN:
 * "2323 telnet, 8080 HTTP, 8443 HTTPS, 2222 SSH"), then any free port.
 */
export const PORT_PLAN = {
  telnet: { standard: 23, mapped: 2323 },
  ssh: { standard: 22, mapped: 2222 },
  http: { standard: 80, mapped: 8080 },
  https: { standard: 443, mapped: 8443 },
  rtsp: { standard: 554, mapped: 8554 },
  mqtt: { standard: 1883, mapped: 1884 },
  mqtts: { standard: 8883, mapped: 8884 },
  coap: { standard: 5683, mapped: 5783, transport: 'udp' },
  coaps: { standard: 5684, mapped: 5784, transport: 'udp' },
} as const satisfies Record<string, { standard: number; mapped: number; transport?: 'udp' }>;

export type PlannedService = keyof typeof PORT_PLAN;

/**
 * The servers of one device being started. If any server fails to start, the ones already
 * listening are closed before the error propagates, so a half-started device leaks nothing.
 */
export class ServiceGroup {
  readonly services: LabService[] = [];
  readonly #servers: RunningServer[] = [];

  constructor(readonly context: DeviceContext) {}

  /**
   * Starts one server on the planned ports. `start` receives the listen options (host, candidate
   * ports, exclusions) to spread into the server's own options.
   */
  async add(
    protocol: PlannedService,
    service: { tls: boolean; note?: string },
    start: (listen: { host: string; port: number[]; excludePorts: readonly number[] }) => Promise<RunningServer>,
  ): Promise<LabService> {
    const plan = PORT_PLAN[protocol];
    let server: RunningServer;
    try {
      server = await start({ host: this.context.address, port: [plan.standard, plan.mapped, 0], excludePorts: this.context.excludePorts });
    } catch (error) {
      await this.close();
      throw new LabError(`lab: cannot start ${protocol} on ${this.context.address}`, { cause: error });
    }
    this.#servers.push(server);
    const entry: LabService = { protocol, transport: 'transport' in plan ? plan.transport : 'tcp', port: server.port, standardPort: plan.standard, tls: service.tls };
    if (service.note) entry.note = service.note;
    this.services.push(entry);
    return entry;
  }

  /** Closes every server; reports the first failure only after trying them all. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.#servers.splice(0).reverse().map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw new LabError(`lab: a server of the device at ${this.context.address} did not close cleanly`, { cause: failed.reason });
  }
}
