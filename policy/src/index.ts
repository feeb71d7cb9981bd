// @trustswarm/policy: formats, detached CMS signatures, certificate chains and the
// "endorsed AND approved" decision. A pure library: no network, no server.

export * from './certificate.js';
export * from './cms-sign.js';
export * from './cms-verify.js';
export * from './crl.js';
export * from './documents.js';
export * from './env-config.js';
export * from './errors.js';
export * from './evaluate.js';
export * from './freshness.js';
export * from './high-water.js';
export * from './limits.js';
export { canonicalNameFromDer, canonicalNameFromText, nameToText, opensslNameHash } from './names.js';
export * from './schema.js';
export * from './scope.js';
export { DEFAULT_MAX_DOCUMENT_BYTES, type ParseOptions, parseStrictYaml } from './strict-yaml.js';
export * from './trust-anchors.js';
export * from './verify.js';
