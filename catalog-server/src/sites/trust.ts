// A site's effective trust list: local and upstream endorsers minus local removals (a local entry
// wins over an upstream one for the same identity), as policy EndorserRules plus identity keys.
import { type EndorserRule, identityKeyFromText } from '@trustswarm/policy';
import { badRequest } from '../errors.js';
import type { SqlExecutor } from '../storage/db.js';
import {
  type EndorserScope,
  endorsersOf,
  removalsOf,
  type SiteEndorserRecord,
} from '../storage/site-repo.js';

export interface EffectiveEndorser {
  identityKey: string;
  origin: 'local' | 'upstream';
  rule: EndorserRule;
}

export function ruleOf(e: Pick<SiteEndorserRecord, 'issuer' | 'subject' | 'scope'>): EndorserRule {
  const scope: EndorserScope = {};
  if (e.scope.kinds) scope.kinds = e.scope.kinds;
  if (e.scope.voTags) scope.voTags = e.scope.voTags;
  return {
    issuer: e.issuer,
    subject: e.subject,
    ...(scope.kinds || scope.voTags ? { scope: scope as EndorserRule['scope'] } : {}),
  };
}

/** Identity key of slash-form DNs; a malformed DN is the caller's bad input. */
export function keyOfDns(issuer: string, subject: string): string {
  try {
    return identityKeyFromText(issuer, subject);
  } catch (err) {
    throw badRequest(
      'DN_INVALID',
      `issuer/subject must be slash-form DNs like /DC=org/CN=Alice: ${(err as Error).message}`,
    );
  }
}

export async function effectiveEndorsers(db: SqlExecutor, site: string): Promise<EffectiveEndorser[]> {
  const removed = new Set(await removalsOf(db, site));
  const byKey = new Map<string, EffectiveEndorser>();
  for (const e of await endorsersOf(db, site)) {
    if (removed.has(e.identityKey)) continue;
    const current = byKey.get(e.identityKey);
    if (current?.origin === 'local') continue;
    byKey.set(e.identityKey, { identityKey: e.identityKey, origin: e.origin, rule: ruleOf(e) });
  }
  return [...byKey.values()].sort((a, b) => a.identityKey.localeCompare(b.identityKey));
}
