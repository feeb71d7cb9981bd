// The audit log, newest page first, with the hash-chain verification result on top.
import { get } from '../api.js';
import { badge, dataTable, h, mono, notice } from '../dom.js';
import { short, when } from '../format.js';
import type { AuditRecord, ChainCheck, Params } from '../types.js';

const pageSize = 100;

function chainNotice(check: ChainCheck) {
  return check.ok
    ? notice(
        [
          badge('chain intact', 'good'),
          ` All ${check.records} records verified: each hash covers its record and the previous hash. Head `,
          h('code', { class: 'mono' }, short(check.headHash, 16)),
        ],
        'good',
      )
    : notice(
        [
          badge('chain broken', 'bad'),
          ` Record #${check.brokenAtSeq}: ${check.reason}. ${check.records} records before it verified.`,
        ],
        'bad',
        'alert',
      );
}

export async function auditPage(_params: Params) {
  const check = await get<ChainCheck>('/audit/verify', { accept: [409] });
  const total = check.records + (check.ok ? 0 : 1);
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const body = h('div');
  const status = h('span', { class: 'pager-status', 'aria-live': 'polite' });
  const newer = h('button', { type: 'button', class: 'secondary' }, '← Newer');
  const older = h('button', { type: 'button', class: 'secondary' }, 'Older →');
  let page = 0; // 0 = newest
  const load = async () => {
    const after = Math.max(0, total - (page + 1) * pageSize);
    const limit = Math.min(pageSize, total - page * pageSize);
    const records = limit > 0 ? await get<AuditRecord[]>(`/audit?after=${after}&limit=${limit}`) : [];
    body.replaceChildren(
      records.length === 0
        ? h('p', { class: 'empty' }, 'The audit log is empty.')
        : dataTable(
            ['#', 'Time', 'Actor', 'Action', 'Target', 'Detail'],
            records
              .slice()
              .reverse()
              .map((r) =>
                h(
                  'tr',
                  { 'data-action': r.action },
                  h('td', { 'data-label': '#' }, String(r.seq)),
                  h('td', { 'data-label': 'Time' }, when(r.at)),
                  h('td', { 'data-label': 'Actor' }, r.actor),
                  h('td', { 'data-label': 'Action' }, mono(r.action)),
                  h('td', { class: 'wrap', 'data-label': 'Target' }, r.target),
                  r.detail === '{}'
                    ? h('td', { class: 'no-detail' })
                    : h('td', { class: 'wrap detail', 'data-label': 'Detail' }, r.detail),
                ),
              ),
            { class: 'audit' },
          ),
    );
    status.textContent = `page ${page + 1} of ${pages}`;
    newer.disabled = page === 0;
    older.disabled = page >= pages - 1;
  };
  newer.addEventListener('click', () => {
    page--;
    void load();
  });
  older.addEventListener('click', () => {
    page++;
    void load();
  });
  await load();
  return [
    h('h1', null, 'Audit log'),
    h('div', { id: 'chain' }, chainNotice(check)),
    h(
      'section',
      { class: 'card' },
      body,
      h('nav', { class: 'pager-nav', 'aria-label': 'Audit pages', hidden: pages <= 1 }, newer, status, older),
    ),
  ];
}
