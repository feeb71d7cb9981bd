// Decides which approved entries belong on this host, from the entry's distribution block
// and the host description in the config. Pure: no I/O, so the bridge can reuse it.

import type { ApprovedEntry } from './verify/site-verifier.js';

export interface HostProfile {
  name: string;
  cluster: string;
  subcluster: string;
  /** empty: accept every VO */
  voTags: string[];
  kinds: string[];
}

export function isForHost(approved: ApprovedEntry, host: HostProfile): boolean {
  const { entry } = approved;
  if (!entry.artifact) return false;
  if (!host.kinds.includes(entry.kind)) return false;
  const dist = entry.distribution ?? {};
  if (dist.cluster && dist.cluster !== host.cluster) return false;
  if (dist.subcluster && dist.subcluster !== host.subcluster) return false;
  if (dist.hosts?.length && !dist.hosts.includes(host.name)) return false;
  const voTags = entry.voTags ?? [];
  if (host.voTags.length > 0 && voTags.length > 0 && !voTags.some((tag) => host.voTags.includes(tag)))
    return false;
  return true;
}

export function selectForHost(entries: ApprovedEntry[], host: HostProfile): ApprovedEntry[] {
  return entries.filter((e) => isForHost(e, host));
}
