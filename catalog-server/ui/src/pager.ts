// Client-side pagination with a text filter: long lists (1,000 entries) stay one page of rows.
import { type Child, h, replace } from './dom.js';

export interface PagerOptions<T> {
  items: T[];
  pageSize?: number;
  /** Text the filter box matches against; no filter box when absent. */
  text?: (item: T) => string;
  render: (items: T[]) => Child;
  emptyText: string;
  label: string;
}

export function pager<T>(options: PagerOptions<T>): HTMLElement {
  const pageSize = options.pageSize ?? 50;
  let page = 0;
  let query = '';
  const body = h('div', { class: 'pager-body' });
  const status = h('span', { class: 'pager-status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary' }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next →');
  const nav = h('nav', { class: 'pager-nav', 'aria-label': `${options.label} pages` }, prev, status, next);

  const filtered = () => {
    const q = query.trim().toLowerCase();
    const text = options.text;
    return q && text ? options.items.filter((i) => text(i).toLowerCase().includes(q)) : options.items;
  };
  const draw = () => {
    const items = filtered();
    const pages = Math.max(1, Math.ceil(items.length / pageSize));
    page = Math.min(page, pages - 1);
    const slice = items.slice(page * pageSize, (page + 1) * pageSize);
    replace(body, slice.length ? options.render(slice) : h('p', { class: 'empty' }, options.emptyText));
    status.textContent =
      items.length === 0
        ? 'nothing to show'
        : `${page * pageSize + 1}–${page * pageSize + slice.length} of ${items.length} · page ${page + 1} of ${pages}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    nav.hidden = pages <= 1;
  };
  prev.addEventListener('click', () => {
    page--;
    draw();
  });
  next.addEventListener('click', () => {
    page++;
    draw();
  });
  const children: Child[] = [];
  if (options.text) {
    const input = h('input', {
      type: 'search',
      placeholder: 'Filter',
      'aria-label': `Filter ${options.label}`,
    });
    input.addEventListener('input', () => {
      query = input.value;
      page = 0;
      draw();
    });
    children.push(h('div', { class: 'pager-filter' }, input));
  }
  draw();
  return h('div', { class: 'pager' }, children, body, nav);
}
