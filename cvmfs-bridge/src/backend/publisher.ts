// One publishing interface, two backends: `native` writes the repository itself;
// `cvmfs_server` drives an existing Stratum 0 through its command-line tool.

export type PublishSource =
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'tar'; readonly path: string };

export interface PublishRequest {
  readonly fqrn: string;
  readonly source: PublishSource;
  /** Repository path the source lands under ('' or '/' for the root). */
  readonly path: string;
  readonly tag?: string;
  readonly checksum?: boolean;
  readonly allowAbsoluteSymlinks?: boolean;
}

export interface PublishSummary {
  readonly backend: 'native' | 'cvmfs_server';
  readonly revision?: number;
  readonly filesStored?: number;
  readonly bytesStored?: number;
  readonly catalogsWritten?: number;
}

export interface Publisher {
  publish(request: PublishRequest): Promise<PublishSummary>;
}
