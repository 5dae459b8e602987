import { HarnessError } from '../harness/errors.js';

/**
 * The lab could not start or stop a simulated device: a bad device id or address (input errors the
 * user can fix) or a socket the OS refused for a reason other than "port taken" (unexpected).
 */
export class LabError extends HarnessError {
  constructor(message: string, options: { cause?: unknown; isInputError?: boolean } = {}) {
    super('E_LAB', message, options);
  }
}
