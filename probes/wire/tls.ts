/**
 * The TLS wire format in one import: ClientHello building (`tls-hello.ts`) and reading the server's
 * answer (`tls-server.ts`).
 */
export * from './tls-hello.js';
export * from './tls-server.js';
