// Drafts: an endorser prepares the next catalog version on the server (add entries by uploading
// or referencing artifacts), then signs the exact bytes locally with the command shown here.
import { api, describe, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { type Child, empty, facts, field, h, mono, notice, replace } from '../dom.js';
import { bytes, when } from '../format.js';
import { refresh, setFlash, takeFlash } from '../nav.js';
import { pager } from '../pager.js';
import type { CatalogSummary, Params } from '../types.js';
import { infoHashOf, maxBrowserHashBytes, sha256Of, uploadArtifact } from '../upload.js';

interface DraftSummary {
  exists: boolean;
  name: string;
  publishedVersion: number;
  nextVersion: number;
  sha256?: string;
  updatedBy?: string;
  updatedAt?: string;
  expires?: string;
  entries?: { id: string; name: string; version: string; kind: string; sha256: string }[];
}

export async function draftsPage(_params: Params) {
  const list = await get<CatalogSummary[]>('/catalogs');
  return [
    h('h1', null, 'Drafts'),
    h(
      'p',
      null,
      'Prepare the next version of a catalog here; you sign it on your own machine, where your key stays.',
    ),
    h(
      'section',
      { class: 'card' },
      list.length === 0
        ? empty('No catalog exists yet: publish the first version with tsw-endorse publish.')
        : pager({
            items: list,
            label: 'catalogs',
            emptyText: 'No catalog matches the filter.',
            text: (c) => `${c.name} ${c.id}`,
            render: (items) =>
              h(
                'ul',
                { class: 'plain' },
                items.map((c) =>
                  h(
                    'li',
                    null,
                    h(
                      'a',
                      { href: `#/catalogs/${c.id}/draft` },
                      `${c.name}: draft of v${c.latestVersion + 1}`,
                    ),
                  ),
                ),
              ),
          }),
    ),
  ];
}

const csv = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function addEntryForm(catalogId: string, flash: HTMLElement) {
  const kind = h(
    'select',
    null,
    ['vm-image', 'repo-snapshot', 'container-image'].map((k) => h('option', { value: k }, k)),
  );
  const name = h('input', { required: true, placeholder: 'vm64-alma9' });
  const version = h('input', { required: true, placeholder: '2026.11.22' });
  const voTags = h('input', { placeholder: 'cms, atlas' });
  const artifact = h('input', { type: 'file' });
  const torrent = h('input', { type: 'file', accept: '.torrent,application/x-bittorrent' });
  const refSha = h('input', { pattern: '[0-9a-f]{64}', placeholder: 'sha256 of an uploaded artifact' });
  const refSize = h('input', { type: 'number', min: '0' });
  const refInfo = h('input', { pattern: '[0-9a-f]{40}' });
  const refTorrentSha = h('input', { pattern: '[0-9a-f]{64}' });
  const cvmfsRepo = h('input', { placeholder: 'sw.example.org' });
  const cvmfsPath = h('input', { placeholder: '/cms/14.0.0' });
  const ociRef = h('input', { placeholder: 'registry.example.org/repo:tag' });
  const ociDigest = h('input', { placeholder: 'sha256:…' });
  const bar = h('progress', { max: '1', value: '0', 'aria-label': 'Upload progress' });
  const progressText = h('span', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add entry');
  const form = h(
    'form',
    { class: 'stack' },
    h('h2', null, 'Add an entry'),
    field('Kind', kind),
    field('Name', name),
    field('Version', version),
    field('VO tags', voTags),
    h(
      'fieldset',
      null,
      h('legend', null, 'Upload the artifact (vm-image, repo-snapshot)'),
      field(
        'Artifact file',
        artifact,
        'Hashed in the browser (files up to 2 GiB); larger ones: tsw-endorse add.',
      ),
      field('.torrent file', torrent, 'Made with tsw-endorse add or mktorrent.'),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, '… or reference an artifact already on the server'),
      field('sha256', refSha),
      field('Size in bytes', refSize),
      field('Info hash', refInfo),
      field('.torrent sha256', refTorrentSha),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'repo-snapshot: CVMFS location'),
      field('Repository', cvmfsRepo),
      field('Path', cvmfsPath),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'container-image'),
      field('Reference', ociRef),
      field('Digest', ociDigest),
    ),
    h('div', { class: 'progress' }, bar, ' ', progressText),
    submit,
  );
  const say = (text: string) => {
    progressText.textContent = text;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      let art: Record<string, unknown> | undefined;
      const file = artifact.files?.[0];
      const tfile = torrent.files?.[0];
      if (file) {
        if (!tfile) throw new Error('choose the .torrent file of the artifact too');
        if (file.size > maxBrowserHashBytes)
          throw new Error('the file is too large to hash in the browser: use tsw-endorse add');
        say('hashing…');
        const sha256 = await sha256Of(await file.arrayBuffer());
        const tbytes = new Uint8Array(await tfile.arrayBuffer());
        const infoHash = await infoHashOf(tbytes);
        await api('PUT', `/torrents/${infoHash}`, {
          raw: tbytes,
          headers: { 'content-type': 'application/x-bittorrent' },
        });
        await uploadArtifact(file, sha256, (f) => {
          bar.value = f;
          say(`uploaded ${Math.round(f * 100)} % of ${bytes(file.size)}`);
        });
        art = {
          size: file.size,
          sha256,
          infoHash,
          torrent: { sha256: await sha256Of(tbytes) },
          fileName: file.name,
        };
      } else if (refSha.value) {
        art = {
          size: Number(refSize.value),
          sha256: refSha.value.trim(),
          infoHash: refInfo.value.trim(),
          torrent: { sha256: refTorrentSha.value.trim() },
        };
      }
      const entry = {
        id: crypto.randomUUID(),
        kind: kind.value,
        name: name.value.trim(),
        version: version.value.trim(),
        produced: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(art ? { artifact: art } : {}),
        ...(voTags.value ? { voTags: csv(voTags.value) } : {}),
        ...(cvmfsRepo.value
          ? { cvmfs: { repository: cvmfsRepo.value.trim(), path: cvmfsPath.value.trim() } }
          : {}),
        ...(ociRef.value ? { oci: { reference: ociRef.value.trim(), digest: ociDigest.value.trim() } } : {}),
      };
      await post(`/catalogs/${catalogId}/draft/entries`, entry);
      setFlash(`Entry ${entry.name} ${entry.version} added${file ? ` (${bytes(file.size)} uploaded)` : ''}.`);
      await refresh();
    } catch (err) {
      replace(flash, notice(`Entry not added: ${describe(err)}`, 'bad', 'alert'));
      say('');
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function draftPage(params: Params) {
  const id = params.id ?? '';
  const d = await get<DraftSummary>(`/catalogs/${id}/draft/summary`);
  const message = takeFlash();
  const flash = h('div', { class: 'flash', 'aria-live': 'polite' }, message ? notice(message, 'good') : null);
  let body: Child;
  if (!d.exists)
    body = empty(
      `No draft yet. Adding an entry starts one from version ${d.publishedVersion} as version ${d.nextVersion}.`,
    );
  else {
    const remove = async (entryId: string, label: string) => {
      if (
        !(await confirmAction(
          'Remove this entry from the draft?',
          h('p', null, `${label} will not be in version ${d.nextVersion}.`),
          'Remove',
        ))
      )
        return;
      try {
        await api('DELETE', `/catalogs/${id}/draft/entries/${entryId}`);
        await refresh();
      } catch (err) {
        replace(flash, notice(describe(err), 'bad', 'alert'));
      }
    };
    const command = `tsw-endorse draft sign ${id} --server ${location.origin} --token-file ~/.tsw-token`;
    body = [
      facts([
        ['Version', `${d.nextVersion} (published: ${d.publishedVersion})`],
        ['Draft sha256', mono(d.sha256 ?? '')],
        ['Updated', `${when(d.updatedAt)} by ${d.updatedBy ?? ''}`],
        ['Expires', when(d.expires)],
      ]),
      h('h2', null, 'Sign it on your machine'),
      h(
        'p',
        null,
        'This fetches the exact bytes, checks that their sha256 is the one above, signs them with your local key and uploads only the signature; the server then publishes the version.',
      ),
      h('pre', { class: 'config', 'aria-label': 'Sign command' }, command),
      h('h2', null, `Entries (${d.entries?.length ?? 0})`),
      pager({
        items: d.entries ?? [],
        label: 'draft entries',
        emptyText: 'The draft has no entries.',
        text: (e) => `${e.name} ${e.version} ${e.kind}`,
        render: (items) =>
          h(
            'ul',
            { class: 'plain' },
            items.map((e) =>
              h(
                'li',
                null,
                h('strong', null, `${e.name} ${e.version}`),
                ` (${e.kind}) `,
                mono(e.sha256.slice(0, 16)),
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: () => void remove(e.id, `${e.name} ${e.version}`),
                  },
                  'Remove',
                ),
              ),
            ),
          ),
      }),
    ];
  }
  return [
    h('h1', null, `Draft of ${d.name} v${d.nextVersion}`),
    flash,
    h('section', { class: 'card' }, body),
    h('section', { class: 'card' }, addEntryForm(id, flash)),
  ];
}
