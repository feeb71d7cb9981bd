// Shapes of the API answers the UI reads (see catalog-server/README.md for the routes).
import type { Reason } from './api.js';

export type Params = Record<string, string>;

export interface CatalogSummary {
  id: string;
  name: string;
  createdAt: number;
  latestVersion: number;
}

export interface SignatureView {
  signerCertSha256: string;
  subject: string;
  issuer: string;
  addedAt: string;
  valid: boolean;
  reasons: Reason[];
  signingTime: string | null;
  notAfter: string | null;
}

export interface Swarm {
  seeders: number;
  leechers: number;
  peers: number;
}

export interface CatalogEntryDetail {
  version?: string;
  title?: string;
  produced?: string;
  artifact?: { size: number; sha256: string; sha512?: string; infoHash: string; torrent: { sha256: string } };
  image?: Record<string, unknown>;
  oci?: { reference: string; digest: string };
  cvmfs?: { repository: string; path: string };
  distribution?: Record<string, unknown>;
}

export interface VersionDetail {
  id: string;
  version: number;
  name: string;
  endorser: { name?: string; dn?: string } | null;
  sha256: string;
  issued: string;
  expires: string;
  uploadedBy: string;
  signatures: SignatureView[];
  entries: {
    id: string;
    kind: string;
    name: string;
    sha256: string;
    infoHash: string | null;
    voTags: string[];
    swarm: Swarm | null;
    detail: CatalogEntryDetail | null;
  }[];
}

export interface VersionListItem {
  version: number;
  sha256: string;
  issued: string;
  expires: string;
  uploadedBy: string;
  uploadedAt: string;
}

export interface SiteSummary {
  name: string;
  threshold: number;
  hasSigner: boolean;
}

export type { ChangedEntry, SiteEntryView, SiteOverview } from './shapes.js';

export interface Dashboard {
  now: string;
  catalogs: { id: string; name: string; latestVersion: number; issued: string; expires: string }[];
  sites: {
    name: string;
    threshold: number;
    hasSigner: boolean;
    approval: { version: number; issued: string; expires: string } | null;
    pending: number;
    approved: number;
  }[];
  certificates: { role: string; owner: string; subject: string; notAfter: string }[];
  swarms: ({ catalogId: string; entryId: string; name: string; infoHash: string } & Swarm)[];
  swarmsTotal: number;
}

export interface EndorserRule {
  issuer: string;
  subject: string;
  scope?: { kinds?: string[]; voTags?: string[] };
}

export interface SiteTrust {
  threshold: number;
  effective: { identityKey: string; origin: 'local' | 'upstream'; rule: EndorserRule }[];
}

export interface SiteDetail {
  name: string;
  threshold: number;
  hasSigner: boolean;
  approval: { version: number; issued: string; expires: string } | null;
  subscription: {
    url: string;
    signerIssuer: string;
    signerSubject: string;
    status: string;
    lastAttemptAt: number | null;
    lastSuccessAt: number | null;
    lastError: string | null;
    lastVersion: number | null;
  } | null;
}

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: string;
  hash: string;
}

export type ChainCheck =
  | { ok: true; records: number; headHash: string }
  | { ok: false; records: number; brokenAtSeq: number; reason: string };

export interface UserView {
  id: string;
  name: string;
  roles: { role: string; site?: string }[];
  endorserIdentity: string | null;
  totp: boolean;
  disabled: boolean;
}

export interface TokenView {
  id: string;
  label: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  active: boolean;
  current: boolean;
}
