// Registry notifications reduced to what the converter acts on: "repository R of registry H
// changed (push or delete)". Docker distribution envelopes ({events: [...]}) and Harbor's
// PUSH_ARTIFACT / DELETE_ARTIFACT payloads are accepted; pulls and blob events are ignored.
import { z } from 'zod';
import { ContainerError } from './errors.js';
import { MEDIA } from './manifest.js';

export interface RepositoryChange {
  readonly registry: string;
  readonly repository: string;
  readonly action: 'push' | 'delete';
  readonly tag?: string;
  readonly digest?: string;
}

const DockerEvent = z.object({
  action: z.string(),
  target: z
    .object({
      mediaType: z.string().optional(),
      digest: z.string().optional(),
      repository: z.string(),
      url: z.string().optional(),
      tag: z.string().optional(),
    })
    .passthrough(),
  request: z.object({ host: z.string().optional() }).passthrough().optional(),
});
const DockerEnvelope = z.object({ events: z.array(DockerEvent).max(1000) });

const HarborPayload = z.object({
  type: z.string(),
  event_data: z.object({
    resources: z.array(
      z.object({
        digest: z.string().optional(),
        tag: z.string().optional(),
        resource_url: z.string().optional(),
      }),
    ),
    repository: z.object({ repo_full_name: z.string() }).passthrough(),
  }),
});

const MANIFEST_TYPES = new Set<string>(Object.values(MEDIA));

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

export function parseDockerNotification(body: unknown): RepositoryChange[] {
  const r = DockerEnvelope.safeParse(body);
  if (!r.success)
    throw new ContainerError('WEBHOOK_INVALID', 'not a Docker distribution notification envelope');
  const out: RepositoryChange[] = [];
  for (const e of r.data.events) {
    if (e.action !== 'push' && e.action !== 'delete') continue;
    const isManifest =
      e.target.tag !== undefined ||
      (e.target.mediaType !== undefined && MANIFEST_TYPES.has(e.target.mediaType));
    if (e.action === 'push' && !isManifest) continue;
    const registry = hostOf(e.target.url) ?? e.request?.host;
    if (!registry) continue;
    out.push({
      registry,
      repository: e.target.repository,
      action: e.action,
      ...(e.target.tag ? { tag: e.target.tag } : {}),
      ...(e.target.digest ? { digest: e.target.digest } : {}),
    });
  }
  return out;
}

export function parseHarborWebhook(body: unknown): RepositoryChange[] {
  const r = HarborPayload.safeParse(body);
  if (!r.success) throw new ContainerError('WEBHOOK_INVALID', 'not a Harbor webhook payload');
  const action =
    r.data.type === 'PUSH_ARTIFACT' ? 'push' : r.data.type === 'DELETE_ARTIFACT' ? 'delete' : undefined;
  if (!action) return [];
  const repository = r.data.event_data.repository.repo_full_name;
  return r.data.event_data.resources.flatMap((res) => {
    const registry = res.resource_url?.split('/')[0];
    if (!registry) return [];
    return [
      {
        registry,
        repository,
        action,
        ...(res.tag ? { tag: res.tag } : {}),
        ...(res.digest ? { digest: res.digest } : {}),
      },
    ];
  });
}
