// Which endorser rules cover which entries. A rule without a scope covers everything; a
// rule limited to VO tags covers an entry only when every tag of the entry is in scope (an
// untagged entry is site-wide, so a VO-limited endorser cannot endorse it).

import { identityKeyFromText } from './certificate.js';
import type { CatalogEntry, EndorserRule } from './schema.js';

export function ruleCovers(rule: EndorserRule, entry: CatalogEntry): boolean {
  const scope = rule.scope;
  if (!scope) return true;
  if (scope.kinds && !scope.kinds.includes(entry.kind)) return false;
  if (scope.voTags) {
    const tags = entry.voTags ?? [];
    if (tags.length === 0) return false;
    if (!tags.every((t) => scope.voTags?.includes(t))) return false;
  }
  return true;
}

/** Rules grouped by identity key (canonical issuer + subject). */
export function indexRules(rules: EndorserRule[]): Map<string, EndorserRule[]> {
  const byKey = new Map<string, EndorserRule[]>();
  for (const rule of rules) {
    const key = identityKeyFromText(rule.issuer, rule.subject);
    byKey.set(key, [...(byKey.get(key) ?? []), rule]);
  }
  return byKey;
}
