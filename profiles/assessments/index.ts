import authenticatedAccess from './authenticated-access.js';
import authenticatedConfiguration from './authenticated-configuration.js';
import bestPracticeCrypto from './best-practice-crypto.js';
import limitedDisclosure from './limited-disclosure.js';
import bruteForceProtection from './brute-force-protection.js';
import noDefaultCredentials from './no-default-credentials.js';
import onlyDeclaredInterfaces from './only-declared-interfaces.js';
import type { Assessment } from './types.js';

/** Every assessment, by id. One registry: profiles refer to these ids and the loader checks them. */
export const ASSESSMENTS: ReadonlyMap<string, Assessment> = new Map(
  [onlyDeclaredInterfaces, noDefaultCredentials, bruteForceProtection, bestPracticeCrypto, authenticatedAccess, authenticatedConfiguration, limitedDisclosure].map((a) => [a.id, a as unknown as Assessment]),
);
