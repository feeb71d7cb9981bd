// The reverse of the approved flow's snapshot check: an image must not be converted over,
// inside or around a path a repo-snapshot entry publishes, nor put its layout trees there — the
// snapshot's next update replaces its path whole (deleting the image), and the image would
// overwrite the snapshot's content. Checked inside the conversion's transaction (transactions on
// a repository are serialised), against the approved flow's state rows, whichever process
// converts (wishlist, webhook service, `container ingest`, `tsw-bridge run`). Refused with
// TAG_CONFLICT, the code for a path another source owns.
import { type SnapshotClaim, snapshotClaims } from '../flows/state.js';
import { ContainerError } from './errors.js';
import { type ImageFootprint, overlapWithImage } from './image-footprint.js';

/** Throws TAG_CONFLICT when the image at `image.path` would touch a snapshot's path. */
export function requireNoSnapshot(stateDir: string, fqrn: string, image: ImageFootprint): void {
  for (const snapshot of snapshotClaims(stateDir, fqrn)) {
    const reason = conflictWith(fqrn, image, snapshot);
    if (reason) throw new ContainerError('TAG_CONFLICT', reason);
  }
}

function conflictWith(fqrn: string, image: ImageFootprint, snapshot: SnapshotClaim): string | undefined {
  const overlap = overlapWithImage(snapshot.path, image);
  if (!overlap) return undefined;
  const pending = snapshot.status === 'downloaded' ? ' (downloaded, to be published)' : '';
  const owner = `the repo snapshot of approved entry ${snapshot.entryId}${pending}`;
  switch (overlap.kind) {
    case 'is':
      return `${fqrn}:${image.path} is the path of ${owner}`;
    case 'covers': // the snapshot's path covers the image's
      return `${fqrn}:${image.path} lies inside ${snapshot.path}, ${owner}`;
    case 'inside':
      return `${fqrn}:${image.path} covers ${snapshot.path}, ${owner}`;
    case 'layout':
      return `${fqrn}:${overlap.tree}, the container layout of ${image.path}, overlaps ${snapshot.path}, ${owner}`;
  }
}
