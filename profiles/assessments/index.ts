import authenticatedAccess from './authenticated-access.js';
import authenticatedConfiguration from './authenticated-configuration.js';
import bestPracticeCrypto from './best-practice-crypto.js';
import limitedDisclosure from './limited-disclosure.js';
import bruteForceProtection from './brute-force-protection.js';
import declaredDisclosurePolicy from './declared-disclosure-policy.js';
import declaredSupportPeriod from './declared-support-period.js';
import noDefaultCredentials from './no-default-credentials.js';
import onlyDeclaredInterfaces from './only-declared-interfaces.js';
import updateMechanism from './update-mechanism.js';
import updateSignature from './update-signature.js';
import updateTransport from './update-transport.js';
import type { Assessment } from './types.js';

/** Every assessment, by id. One registry: profiles refer to these ids and the loader checks them. */
export const ASSESSMENTS: ReadonlyMap<string, Assessment> = new Map(
  [onlyDeclaredInterfaces, noDefaultCredentials, bruteForceProtection, bestPracticeCrypto, authenticatedAccess, authenticatedConfiguration, limitedDisclosure, updateTransport, updateSignature, updateMechanism, declaredSupportPeriod, declaredDisclosurePolicy].map((a) => [a.id, a as unknown as Assessment]),
);
