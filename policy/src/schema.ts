// Schemas of the signed documents (DESIGN.md "Formats"). Strict: an unknown key is an
// error, so two versions of the software never read the same bytes differently.

import { z } from 'zod';

export const API_VERSION = 'trustswarm/v1';

const hex = (chars: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-f]{${chars}}$`), `expected ${what} as ${chars} lowercase hex characters`);

export const sha256DigestSchema = hex(64, 'a sha256 digest');
export const sha512DigestSchema = hex(128, 'a sha512 digest');
export const infoHashSchema = hex(40, 'a BitTorrent v1 info hash');

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'expected a lowercase UUID');

/** RFC 3339 in UTC with a Z suffix; kept as the exact string written in the document. */
export const timestamp = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/,
    'expected an RFC 3339 UTC time like 2026-11-22T10:00:00Z',
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a real date and time');

const simpleName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected letters, digits and . _ + - only');
const label = z.string().min(1).max(200);
const version = z.number().int('expected an integer').min(1).max(Number.MAX_SAFE_INTEGER);

/** A single path component, so an entry can never name a file outside its directory. */
const fileName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._+-]+$/, 'expected a plain file name')
  .refine((s) => s !== '.' && s !== '..', 'expected a plain file name');

/** Grid-style DN (/DC=org/DC=example/CN=Alice); compared as canonical DER, never as text. */
export const distinguishedName = z
  .string()
  .min(3)
  .max(2048)
  .regex(
    /^(\/[A-Za-z][A-Za-z0-9.]*=[^/]*(\/[^/=]*)*)+$/,
    'expected a DN in slash form, like /DC=org/CN=Alice',
  );

export const entryKinds = ['vm-image', 'repo-snapshot', 'container-image'] as const;
export type EntryKind = (typeof entryKinds)[number];

const cvmfsPath = z
  .string()
  .max(4096)
  .regex(/^(\/[^/\0]+)+$/, 'expected an absolute path like /cms/14.0.0')
  .refine(
    (p) => !p.split('/').some((c) => c === '.' || c === '..'),
    'path must not contain . or .. components',
  );

const repositoryName = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/,
    'expected a fully qualified name',
  );

export const artifactSchema = z.strictObject({
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: sha256DigestSchema,
  sha512: sha512DigestSchema.optional(),
  infoHash: infoHashSchema,
  torrent: z.strictObject({ sha256: sha256DigestSchema }),
  fileName: fileName.optional(),
});

export const entrySchema = z
  .strictObject({
    id: uuid,
    kind: z.enum(entryKinds),
    name: simpleName,
    version: z.string().min(1).max(200),
    title: label.optional(),
    description: z.string().max(10_000).optional(),
    produced: timestamp.optional(),
    artifact: artifactSchema.optional(),
    image: z
      .strictObject({
        os: label.optional(),
        osVersion: label.optional(),
        arch: label.optional(),
        hypervisor: label.optional(),
        format: label.optional(),
        ramMinimumBytes: z.number().int().min(0).optional(),
        coreMinimum: z.number().int().min(0).optional(),
        volume: z.strictObject({ name: label, size: z.number().int().min(0) }).optional(),
      })
      .optional(),
    oci: z
      .strictObject({
        reference: z.string().min(3).max(1024),
        digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex>'),
      })
      .optional(),
    cvmfs: z.strictObject({ repository: repositoryName, path: cvmfsPath }).optional(),
    voTags: z.array(simpleName).max(100).optional(),
    distribution: z
      .strictObject({
        cluster: label.optional(),
        subcluster: label.optional(),
        hosts: z.array(label).max(100_000).optional(),
      })
      .optional(),
  })
  .superRefine((entry, ctx) => {
    if ((entry.kind === 'vm-image' || entry.kind === 'repo-snapshot') && !entry.artifact) {
      ctx.addIssue({ code: 'custom', path: ['artifact'], message: `required for kind ${entry.kind}` });
    }
    if (entry.kind === 'repo-snapshot' && !entry.cvmfs) {
      ctx.addIssue({ code: 'custom', path: ['cvmfs'], message: 'required for kind repo-snapshot' });
    }
    if (entry.kind === 'container-image' && !entry.oci) {
      ctx.addIssue({ code: 'custom', path: ['oci'], message: 'required for kind container-image' });
    }
  });

const uniqueIds = <T extends { id: string }>(items: T[], ctx: z.RefinementCtx, field: string) => {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.id))
      ctx.addIssue({ code: 'custom', path: [field, i, 'id'], message: `duplicate id ${item.id}` });
    seen.add(item.id);
  });
};

export const catalogSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Catalog'),
    id: uuid,
    name: simpleName,
    version,
    issued: timestamp,
    expires: timestamp,
    description: z.string().max(10_000).optional(),
    endorser: z.strictObject({ name: label.optional(), dn: z.string().max(2048).optional() }).optional(),
    entries: z.array(entrySchema).max(1_000_000),
  })
  .superRefine((c, ctx) => uniqueIds(c.entries, ctx, 'entries'));

export const scopeSchema = z.strictObject({
  kinds: z.array(z.enum(entryKinds)).optional(),
  voTags: z.array(simpleName).optional(),
});

export const endorserRuleSchema = z.strictObject({
  name: label.optional(),
  issuer: distinguishedName,
  subject: distinguishedName,
  scope: scopeSchema.optional(),
});

export const trustSchema = z.strictObject({
  threshold: z.number().int().min(1).max(100),
  endorsers: z.array(endorserRuleSchema).max(10_000),
});

export const approvalSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Approval'),
    site: simpleName,
    version,
    issued: timestamp,
    expires: timestamp,
    trust: trustSchema,
    catalogs: z
      .array(
        z
          .strictObject({
            id: uuid,
            version,
            sha256: sha256DigestSchema,
            entries: z.array(z.strictObject({ id: uuid, sha256: sha256DigestSchema })).max(1_000_000),
          })
          .superRefine((c, ctx) => uniqueIds(c.entries, ctx, 'entries')),
      )
      .max(10_000),
  })
  .superRefine((a, ctx) => uniqueIds(a.catalogs, ctx, 'catalogs'));

export const trustListSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('TrustList'),
  name: simpleName,
  version,
  issued: timestamp,
  expires: timestamp,
  threshold: z.number().int().min(1).max(100).optional(),
  endorsers: z.array(endorserRuleSchema).max(10_000),
});

export type Catalog = z.infer<typeof catalogSchema>;
export type CatalogEntry = z.infer<typeof entrySchema>;
export type Artifact = z.infer<typeof artifactSchema>;
export type Approval = z.infer<typeof approvalSchema>;
export type ApprovalCatalogRef = Approval['catalogs'][number];
export type SiteTrust = z.infer<typeof trustSchema>;
export type EndorserRule = z.infer<typeof endorserRuleSchema>;
export type EndorserScope = z.infer<typeof scopeSchema>;
export type TrustList = z.infer<typeof trustListSchema>;
