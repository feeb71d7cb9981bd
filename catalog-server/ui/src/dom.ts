// A tiny hyperscript helper: every text goes through text nodes, never innerHTML, so data from
// the API (DNs, names, audit details) can never become markup.
export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export type Tone = 'good' | 'warn' | 'bad' | 'neutral';

/** A status in words and colour; the word alone carries the meaning. */
export const badge = (text: string, tone: Tone) => h('span', { class: `badge ${tone}` }, text);

export const mono = (text: string) => h('code', { class: 'mono' }, text);

export function notice(text: Child, tone: Tone = 'neutral', role: 'status' | 'alert' = 'status') {
  return h('p', { class: `notice ${tone}`, role }, text);
}

export const empty = (text: string) => h('p', { class: 'empty' }, text);

/** A field with its visible label. */
export function field(label: string, input: HTMLElement, hint?: string) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  input.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('small', { class: 'hint' }, hint) : null,
  );
}

/** A definition list of label → value rows. */
export function facts(rows: [string, Child][]) {
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  );
}

/** A table that scrolls sideways inside its card on narrow screens: header cells, then rows. */
export function dataTable(headers: Child[], rows: Child, attrs?: Attrs | null) {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      attrs ?? null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          headers.map((label) => h('th', null, label)),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}
