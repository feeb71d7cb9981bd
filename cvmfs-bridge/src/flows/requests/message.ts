// A repository request as it arrives on the queue, checked before anything happens: the
// name is a lowercase DNS-style fully qualified name (no slashes, dots at the ends, '..' or
// other path tricks), under an allowed domain when the site restricts them.
import { z } from 'zod';
import type { RequestsFlowConfig } from '../config.js';
import { FlowError } from '../errors.js';

export interface RepoRequest {
  readonly requester: string;
  readonly repository: string;
  readonly kind: 'personal' | 'group';
  readonly owners: string[];
}

const identity = z
  .string()
  .min(1)
  .max(512)
  .refine(
    (s) => ![...s].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f'),
    'must not contain control characters',
  );

const RequestSchema = z.strictObject({
  requester: identity,
  repository: z.string().min(1).max(253),
  kind: z.enum(['personal', 'group']),
  owners: z.array(identity).default([]),
});

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Throws NAME_INVALID unless `name` is a DNS-style FQRN (≥ 3 labels) in an allowed domain. */
export function validateRepositoryName(name: string, allowedDomains: readonly string[]): string {
  const labels = name.split('.');
  if (name.length > 200 || labels.length < 3 || !labels.every((l) => LABEL.test(l)))
    throw new FlowError(
      'NAME_INVALID',
      `repository name must be a lowercase fully qualified name like sw.example.org: ${JSON.stringify(name.slice(0, 100))}`,
    );
  if (allowedDomains.length > 0 && !allowedDomains.some((d) => name.endsWith(`.${d.toLowerCase()}`)))
    throw new FlowError('NAME_INVALID', `repository ${name} is not under ${allowedDomains.join(', ')}`);
  return name;
}

export function parseRequest(body: Buffer, config: RequestsFlowConfig): RepoRequest {
  if (body.length > config.maxMessageBytes)
    throw new FlowError(
      'MESSAGE_TOO_LARGE',
      `request of ${body.length} bytes exceeds ${config.maxMessageBytes}`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new FlowError('MESSAGE_INVALID', 'request is not JSON');
  }
  const parsed = RequestSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FlowError('MESSAGE_INVALID', `request ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const r = parsed.data;
  validateRepositoryName(r.repository, config.allowedDomains);
  const owners = r.owners.length > 0 ? [...new Set(r.owners)] : [r.requester];
  if (owners.length > config.maxOwners)
    throw new FlowError(
      'MESSAGE_INVALID',
      `request names ${owners.length} owners, limit ${config.maxOwners}`,
    );
  if (r.kind === 'personal' && (owners.length !== 1 || owners[0] !== r.requester))
    throw new FlowError('MESSAGE_INVALID', 'a personal repository has exactly one owner: the requester');
  return { requester: r.requester, repository: r.repository, kind: r.kind, owners };
}
