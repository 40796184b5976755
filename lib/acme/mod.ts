/**
 * @module
 * Certificates for the proxy's TLS listener: storage (`CertStore`, a
 * `CertSource` by SNI name), ACME HTTP-01 issuance and renewal
 * (`AcmeManager`), challenge responses (`ChallengeResponder`).
 */
export type { CertPair, CertSource } from "./cert_source.ts";
export { hostnameCandidates } from "./cert_source.ts";
export { type CertOrigin, CertStore, type StoredCert } from "./cert_store.ts";
export { ChallengeResponder } from "./challenge.ts";
export { AcmeManager, type DomainStatus, isAcmeName } from "./acme_manager.ts";
export { DomainWatch, type DomainWatchOptions } from "./domain_watch.ts";
export { AcmeIssuer, type Issuer } from "./acme_issuer.ts";
export { type Certificates, createCertificates } from "./certificates.ts";
export { createSelfSigned } from "./self_signed.ts";
