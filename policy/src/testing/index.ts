// Test helpers of the trust core, for this package's tests and every other package's.
export { buildCrl, type CrlSpec } from './crl-builder.js';
export { makeApproval, makeCatalog, makeEntry } from './documents.js';
export { type OpensslVerdict, opensslCmsVerify, opensslCmsVerifyFiles } from './openssl.js';
export {
  createTestPki,
  type ExtendedKeyUsage,
  type IssueOptions,
  type KeyUsage,
  type TestCa,
  type TestIdentity,
  type TestPki,
} from './test-pki.js';
