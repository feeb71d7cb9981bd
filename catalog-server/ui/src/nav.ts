// Navigation between pages without import cycles: main.ts registers the renderer at start.
let renderer: () => Promise<void> = async () => undefined;

export function setRenderer(fn: () => Promise<void>): void {
  renderer = fn;
}

export const currentPath = () => decodeURIComponent(location.hash.replace(/^#/, '') || '/');

export function go(path: string): void {
  if (currentPath() === path) void renderer();
  else location.hash = `#${path}`;
}

/** Re-draws the current page (after a change). */
export const refresh = () => renderer();

export const siteHref = (site: string, page: 'approvals' | 'trust' | 'agents') =>
  `#/sites/${encodeURIComponent(site)}/${page}`;

const flashKey = 'tsw.flash';

/** A message for the next drawing of the page (it survives the re-render after a change). */
export function setFlash(text: string): void {
  sessionStorage.setItem(flashKey, text);
}

export function takeFlash(): string | null {
  const text = sessionStorage.getItem(flashKey);
  sessionStorage.removeItem(flashKey);
  return text;
}
