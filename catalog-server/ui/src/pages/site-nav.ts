// The tabs shared by a site's pages.
import { h } from '../dom.js';
import { currentPath, siteHref } from '../nav.js';

export function siteTabs(site: string) {
  const tab = (page: 'approvals' | 'trust' | 'agents', label: string) => {
    const href = siteHref(site, page);
    const here = `#${currentPath()}` === decodeURIComponent(href);
    return h('a', { href, ...(here ? { 'aria-current': 'page' } : {}) }, label);
  };
  return h(
    'nav',
    { class: 'tabs', 'aria-label': `Site ${site}` },
    tab('approvals', 'Approvals'),
    tab('trust', 'Trust list'),
    tab('agents', 'Agent download'),
  );
}
