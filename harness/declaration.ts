import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { loadPublicKey } from '../probes/lib/signature.js';
import { ConfigError } from './errors.js';
import { displayPath, loadYamlFile } from './input.js';

const httpUrl = z
  .string()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an https or http URL, like https://updates.example/fw.json');

const isoDate = z.union([
  z.date().transform((d) => d.toISOString().slice(0, 10)),
  z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD'),
]);

export const InterfaceSchema = z.strictObject({
  port: z.number().int().min(1, 'ports run from 1 to 65535').max(65535, 'ports run from 1 to 65535'),
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  protocol: z.string().min(1).describe('the protocol the service speaks, e.g. https, mqtts, ssh, coap'),
  purpose: z.string().optional().describe('why the interface exists: shown in verdict rationales'),
});

export const TestCredentialSchema = z.strictObject({
  service: z.string().min(1).describe('protocol the account is for: mqtt, ssh, http, telnet, ...'),
  username: z.string(),
  password: z.string(),
  port: z.number().int().min(1).max(65535).optional(),
});

/**
 * The manufacturer's declaration (ICS/IXIT): what the device claims about itself. Strict: a typo in a
 * compliance file must fail loudly rather than silently drop a claim.
 */
export const DeclarationSchema = z.strictObject({
  device: z
    .strictObject({
      vendor: z.string().optional(),
      model: z.string().optional(),
      firmware: z.coerce.string().optional(),
      serial: z.coerce.string().optional(),
    })
    .optional(),
  credentials: z
    .strictObject({
      model: z.enum(['unique-per-device', 'user-defined', 'none']).describe('how the device gets its passwords'),
      test: z.array(TestCredentialSchema).default([]).describe('accounts for authenticated checks; redacted in reports'),
    })
    .optional(),
  trustAnchors: z.array(z.string().min(1)).default([]).describe('CA files behind the device\'s TLS services, relative to the declaration'),
  interfaces: z.array(InterfaceSchema).optional().describe('declared network services; anything else found open is reported'),
  update: z
    .strictObject({
      urls: z.array(httpUrl).min(1, 'list at least one update URL'),
      trustAnchors: z.array(z.string().min(1)).optional(),
      signing: z
        .strictObject({
          algorithm: z.enum(['ed25519', 'ecdsa-p256-sha256', 'rsa-pss-sha256']),
          publicKey: z.string().min(1),
          signatureUrl: httpUrl.optional(),
          manifest: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
  supportPeriod: z.strictObject({ end: isoDate, published: httpUrl.optional() }).optional(),
  vulnerabilityDisclosure: z.strictObject({ url: httpUrl.optional(), contact: z.string().optional() }).optional(),
  coap: z.strictObject({ psk: z.strictObject({ identity: z.string(), key: z.string() }).optional() }).optional(),
});

export type DeclarationData = z.infer<typeof DeclarationSchema>;
export type DeclaredInterface = z.infer<typeof InterfaceSchema>;
export type TestCredential = z.infer<typeof TestCredentialSchema>;

/** A loaded declaration: the data, with every path resolved against the file's folder. */
export interface Declaration {
  path: string;
  sha256: string;
  data: DeclarationData;
}

export function loadDeclaration(file: string): Declaration {
  const path = resolve(file);
  const data = loadYamlFile(path, DeclarationSchema, 'declaration');
  const base = dirname(path);
  const abs = (p: string): string => resolve(base, p);
  data.trustAnchors = data.trustAnchors.map(abs);
  if (data.update?.trustAnchors) data.update.trustAnchors = data.update.trustAnchors.map(abs);
  if (data.update?.signing) {
    data.update.signing.publicKey = abs(data.update.signing.publicKey);
    // A key that cannot verify anything is bad input: say so now, before any packet, not mid-run.
    try {
      loadPublicKey(data.update.signing.publicKey, data.update.signing.algorithm);
    } catch (cause) {
      throw new ConfigError(`${displayPath(path)}: ${(cause as Error).message}`, { cause });
    }
  }
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  return { path, sha256, data };
}
