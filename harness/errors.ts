/**
 * One base error with a stable `code`. Only the CLI prints errors and picks exit codes:
 * input errors (bad file, bad flag, out-of-scope target) exit 2 with the message alone;
 * anything else is unexpected and exits 3 with its stack.
 */
export class HarnessError extends Error {
  /** Stable, machine-readable error code, e.g. `E_SCOPE`. */
  readonly code: string;
  /** True when the user can fix it (exit 2, message only). */
  readonly isInputError: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; isInputError?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.isInputError = options.isInputError ?? false;
  }
}

/** A file or option the user gave is wrong: names the file, the field and the fix. */
export class ConfigError extends HarnessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_CONFIG', message, { ...options, isInputError: true });
  }
}

/** A target or connection outside the allowed scope was refused before any packet. */
export class ScopeError extends HarnessError {
  constructor(message: string) {
    super('E_SCOPE', message, { isInputError: true });
  }
}

/** A profile file or an assessment reference is wrong. */
export class ProfileError extends HarnessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_PROFILE', message, { ...options, isInputError: true });
  }
}

/** A probe failed in a way that is the harness's fault, not the device's. */
export class ProbeError extends HarnessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_PROBE', message, options);
  }
}

/** A report writer failed. */
export class ReportError extends HarnessError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_REPORT', message, options);
  }
}
