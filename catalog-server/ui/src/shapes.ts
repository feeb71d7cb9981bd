// JSON shapes of the HTTP API that both sides name: the server (src/http) builds them, the UI
// reads them. They live in the UI's project because it cannot import the server's sources (its
// own rootDir, DOM lib and bundler resolution), while the server reads this file's
// declarations through its project reference to the UI. Dependency-free on purpose.

/** One reason a request or a signature was refused: a stable code and a sentence. */
export interface Reason {
  code: string;
  message: string;
}

export type EntryState = 'approved' | 'revoked' | 'pending';

export interface SiteEntryView {
  id: string;
  name: string;
  version: string;
  kind: string;
  sha256: string;
  voTags: string[];
  state: EntryState;
  /** The explicit decision on this exact digest, when there is one. */
  decision: { state: 'approved' | 'revoked'; byUser: string; at: string } | null;
}

export interface SiteCatalogView {
  id: string;
  name: string;
  version: number;
  endorser: string;
  /** False when the catalog does not verify under the site's trust list (then nothing is listed). */
  verified: boolean;
  reasons: Reason[];
  entries: SiteEntryView[];
}

export interface ChangedEntry {
  catalogId: string;
  entryId: string;
  name: string;
}

export interface SiteOverview {
  catalogs: SiteCatalogView[];
  published: { version: number; issued: string; expires: string } | null;
  /** Between the published approval and what the site's decisions say now. */
  changes: { added: ChangedEntry[]; removed: ChangedEntry[] };
  /** The newest published change of the entry list (re-signings that changed nothing are skipped). */
  lastChange: {
    fromVersion: number;
    toVersion: number;
    at: string;
    added: ChangedEntry[];
    removed: ChangedEntry[];
  } | null;
}
