// The web UI in Debian's chromium (playwright-core) against a real in-process tsw-catalog: sign in
// with TOTP, approve and revoke with confirmation (checked in the served Approval document), the
// audit log with chain verification, a wrong code refused, and screenshots of every main page at
// laptop and phone widths (test/ui/artifacts/).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseApproval, signDetached } from '@trustswarm/policy';
import createTorrent from 'create-torrent';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import {
  adminName,
  adminPassword,
  chromiumArgs,
  chromiumPath,
  endorserPassword,
  requireChromium,
  site,
  startUiFixture,
  type UiFixture,
} from './fixture.js';

const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
const viewports = {
  desktop: { width: 1280, height: 860 },
  phone: { width: 390, height: 844 },
} as const;

/** Records every text the upload progress shows, in order, into window.__progress. */
const recordProgress = `(() => {
  window.__progress = [];
  const target = document.querySelector('.progress span');
  new MutationObserver(() => window.__progress.push(target.textContent)).observe(target, { childList: true, characterData: true, subtree: true });
})()`;

function makeTorrent(content: Buffer, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    createTorrent(
      Object.assign(content, { name }),
      { announceList: [['http://127.0.0.1:1/announce']], pieceLength: 4 * 1024 * 1024, createdBy: 'test' },
      (err: Error | null, torrent: Uint8Array) => (err ? reject(err) : resolve(Buffer.from(torrent))),
    ),
  );
}

/** Empty when nothing sticks out of the viewport sideways, else the elements that do. */
const widestOverflow = `(() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return '';
  return [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest('.scroll'))
    .slice(0, 5)
    .map((el) => el.tagName + '.' + el.className + ' right=' + Math.round(el.getBoundingClientRect().right))
    .join(', ') || 'page wider than the viewport';
})()`;

/** A six-digit code that is wrong for the previous, current and next 30 s step. */
function wrongCode(secret: string): string {
  const now = Date.now();
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpCode(secret, now + d)));
  for (let n = 0; ; n++) {
    const candidate = String((Number(totpCode(secret, now)) + 1 + n) % 1_000_000).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

describe('web UI journeys (chromium)', () => {
  let fx: UiFixture;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    requireChromium();
    mkdirSync(artifacts, { recursive: true });
    fx = await startUiFixture();
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    desktop = await browser.newContext({ viewport: viewports.desktop });
    page = await desktop.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await fx?.cleanup();
  });

  const shot = (p: Page, name: string, fullPage = true) =>
    p.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
  const open = async (p: Page, hash: string, heading: string | RegExp) => {
    await p.goto(`${fx.server.url}/ui/#${hash}`);
    await p.getByRole('heading', { level: 1, name: heading }).waitFor();
  };
  async function signIn(p: Page, name: string, password: string, code?: string) {
    await p.goto(`${fx.server.url}/ui/`);
    await p.getByLabel('User name').fill(name);
    await p.getByLabel('Password').fill(password);
    if (code) await p.getByLabel('One-time code').fill(code);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }
  async function approvedIds(): Promise<{ version: number; ids: string[] }> {
    const response = await fetch(`${fx.server.url}/sites/${site}/approval.yaml`);
    expect(response.status).toBe(200);
    const approval = parseApproval(new Uint8Array(await response.arrayBuffer()));
    return { version: approval.version, ids: approval.catalogs.flatMap((c) => c.entries.map((e) => e.id)) };
  }

  it('refuses a wrong one-time code with a clear message, then signs in with the right one', async () => {
    await page.goto(`${fx.server.url}/ui/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, 'desktop-sign-in');
    await page.getByLabel('User name').fill(adminName);
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByLabel('One-time code').fill(wrongCode(fx.totpSecret));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await expect(alert.textContent()).resolves.toContain('Sign-in refused');
    await expect(alert.textContent()).resolves.toContain('one-time code');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot(page, 'desktop-sign-in-refused');

    await page.getByLabel('Password').fill(adminPassword);
    await page.getByLabel('One-time code').fill(totpCode(fx.totpSecret));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    expect(await page.locator('#who').textContent()).toBe(adminName);
  });

  it('shows the dashboard with pending entries, catalogs, expiring certificates and swarms', async () => {
    const pending = page.getByRole('region', { name: /Waiting for approval/ });
    await expect(pending.textContent()).resolves.toContain('1003 waiting');
    const certs = page.getByRole('region', { name: /Certificates expiring/ });
    await expect(certs.textContent()).resolves.toContain('Deliberately Long Common Name');
    const swarms = page.getByRole('region', { name: /Swarm health/ });
    await expect(swarms.textContent()).resolves.toContain(
      '1 agent done, 1 downloading, in 1 active of 1003 artifacts',
    );
    const busiest = swarms.locator('tbody tr').first();
    await expect(busiest.locator('td').allTextContents()).resolves.toEqual([
      fx.big.entries[0]?.name,
      expect.stringMatching(/^[0-9a-f]{16}…$/),
      '1',
      '1',
      '2',
    ]);
    await shot(page, 'desktop-dashboard');
  });

  it('lists catalogs and shows a version with its signatures in words and its paginated entries', async () => {
    await open(page, '/catalogs', 'Catalogs');
    await shot(page, 'desktop-catalogs');
    await page.getByRole('link', { name: 'bulk-snapshots' }).click();
    await page.getByRole('heading', { level: 1, name: 'bulk-snapshots v1' }).waitFor();
    const sigs = page.getByRole('region', { name: /Signatures/ });
    await expect(sigs.textContent()).resolves.toContain('2 of 2 valid now');
    expect(await sigs.locator('.badge.good').count()).toBe(2);
    const entries = page.getByRole('region', { name: /Entries/ });
    await expect(entries.locator('.pager-status').textContent()).resolves.toBe('1–50 of 1000 · page 1 of 20');
    expect(await entries.locator('ul.entries > li').count()).toBe(50);
    await entries.getByRole('button', { name: 'Next →' }).click();
    await expect(entries.locator('.pager-status').textContent()).resolves.toContain('51–100 of 1000');
    await entries.getByLabel('Filter entries').fill('bulk-image-0999');
    expect(await entries.locator('ul.entries > li').count()).toBe(1);
    await entries.locator('summary').first().click();
    await expect(entries.textContent()).resolves.toContain('Info hash');
    await shot(page, 'desktop-catalog-detail');

    await open(page, `/catalogs/${fx.legacy.id}`, 'legacy-tools v1');
    const legacySigs = page.getByRole('region', { name: /Signatures/ });
    await expect(legacySigs.textContent()).resolves.toContain('1 of 2 valid now');
    const revoked = legacySigs.getByRole('listitem').filter({ hasText: 'CN=Carol' }).first();
    await expect(revoked.locator('.badge.bad').textContent()).resolves.toBe('revoked');
    await expect(revoked.textContent()).resolves.toContain('CERT_REVOKED');
    await shot(page, 'desktop-catalog-revoked-signature');
  });

  it('approves an entry after a confirmation that says what agents will do, and the Approval lists it', async () => {
    const before = await approvedIds().catch(() => ({ version: 0, ids: [] as string[] }));
    expect(before.ids).not.toContain(fx.small.vm.id);
    await open(page, `/sites/${site}/approvals`, `Approvals for ${site}`);
    await shot(page, 'desktop-approvals');
    const row = page.locator(`tr[data-entry="${fx.small.vm.id}"]`);
    // keyboard: Escape cancels the confirmation and nothing is written
    await row.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect((await approvedIds().catch(() => before)).ids).not.toContain(fx.small.vm.id);

    await row.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toContain(`Agents of site ${site} will download it`);
    await expect(dialog.textContent()).resolves.toContain('vm64-alma9 2026.11');
    await shot(page, 'desktop-approve-confirm', false);
    await dialog.getByRole('button', { name: 'Approve' }).click();
    const flash = page.locator('.flash');
    await flash.getByText(/Approval version \d+ is signed/).waitFor();
    const after = await approvedIds();
    expect(after.ids).toEqual([fx.small.vm.id]);
    expect(after.version).toBeGreaterThan(before.version);
    await expect(page.locator(`tr[data-entry="${fx.small.vm.id}"] .badge`).textContent()).resolves.toBe(
      'approved',
    );
    const lastChange = page.getByRole('list', { name: 'Last published change' });
    await expect(lastChange.textContent()).resolves.toContain('+ vm64-alma9 2026.11');
    await shot(page, 'desktop-approved');
  });

  it('revokes it again, and the Approval drops it', async () => {
    const before = await approvedIds();
    const row = page.locator(`tr[data-entry="${fx.small.vm.id}"]`);
    // by keyboard alone: focus the row's button, Enter; the dialog focuses Cancel, Tab, Enter
    await row.getByRole('button', { name: 'Revoke' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toContain('will stop using it');
    await expect(page.evaluate('document.activeElement.textContent')).resolves.toBe('Cancel');
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement.textContent')).resolves.toBe('Revoke');
    await page.keyboard.press('Enter');
    await page.locator('.flash').getByText('vm64-alma9 2026.11 revoked.').waitFor();
    const after = await approvedIds();
    expect(after.ids).not.toContain(fx.small.vm.id);
    expect(after.version).toBeGreaterThan(before.version);
    await expect(page.locator(`tr[data-entry="${fx.small.vm.id}"] .badge`).textContent()).resolves.toBe(
      'revoked',
    );
    const lastChange = page.getByRole('list', { name: 'Last published change' });
    await expect(lastChange.textContent()).resolves.toContain('− vm64-alma9 2026.11');
  });

  it('approves everything one endorser signs (1,000 entries) after its confirmation', async () => {
    const item = page.getByRole('listitem').filter({ hasText: 'Deliberately Long Common Name' });
    await item.getByRole('button', { name: 'Approve all from this endorser' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toContain('will download and install all of them');
    await dialog.getByRole('button', { name: 'Approve all' }).click();
    await page
      .locator('.flash')
      .getByText(/Everything from this endorser is approved\. Approval version \d+/)
      .waitFor();
    const after = await approvedIds();
    expect(after.ids).toHaveLength(1000);
    expect(new Set(after.ids)).toEqual(new Set(fx.big.entries.map((e) => e.id)));
    await expect(page.getByRole('list', { name: 'Last published change' }).textContent()).resolves.toContain(
      'and 980 more added',
    );
  });

  it('finds both decisions in the audit log with the chain verified', async () => {
    await open(page, '/audit', 'Audit log');
    await expect(page.locator('#chain').textContent()).resolves.toContain('chain intact');
    const approve = page.locator('tr[data-action="site.entry.approve"]');
    const revoke = page.locator('tr[data-action="site.entry.revoke"]');
    expect(await approve.count()).toBe(1);
    expect(await revoke.count()).toBe(1);
    expect(await page.locator('tr[data-action="site.endorser.approve-all"]').count()).toBe(1);
    await expect(approve.textContent()).resolves.toContain(`user:${adminName}`);
    await expect(revoke.textContent()).resolves.toContain(fx.small.vm.id);
    await shot(page, 'desktop-audit');
  });

  it('renders the trust list, agent download, drafts, users and tokens pages', async () => {
    await open(page, `/sites/${site}/trust`, `Trust list of ${site}`);
    await expect(page.getByRole('region', { name: /Endorsers/ }).textContent()).resolves.toContain('Alice');
    await shot(page, 'desktop-trust');
    await open(page, `/sites/${site}/agents`, `Agent download for ${site}`);
    const config = await page.locator('pre[aria-label="Agent configuration"]').textContent();
    expect(config).toContain(`site: ${site}`);
    expect(config).toContain(fx.pki.site.rule.subject);
    await expect(
      page
        .getByRole('link', { name: /Download .*\.0$/ })
        .first()
        .isVisible(),
    ).resolves.toBe(true);
    await shot(page, 'desktop-agents');
    await open(page, '/drafts', 'Drafts');
    await shot(page, 'desktop-drafts');
    await open(page, '/users', 'Users');
    await expect(page.locator('main table').textContent()).resolves.toContain('alice');
    await shot(page, 'desktop-users');
    await open(page, '/tokens', 'Your tokens');
    await expect(page.locator('main table').textContent()).resolves.toContain('this session');
    await shot(page, 'desktop-tokens');
  });

  it('edits the trust list, adds a TOTP user and creates and revokes a token from the pages', async () => {
    await open(page, `/sites/${site}/trust`, `Trust list of ${site}`);
    const bob = fx.pki.endorsers.bob.rule;
    await page.getByLabel('Issuer DN', { exact: true }).fill(bob.issuer);
    await page.getByLabel('Subject DN', { exact: true }).fill(bob.subject);
    await page.getByLabel('Kinds (empty: all)').fill('container-image');
    await page.getByRole('button', { name: 'Add endorser' }).click();
    const bobItem = page.getByRole('listitem').filter({ hasText: 'CN=Bob' });
    await expect(bobItem.textContent()).resolves.toContain('container-image');
    const trust = await fetch(`${fx.server.url}/api/v1/sites/${site}/trust`, {
      headers: { authorization: `Bearer ${fx.aliceToken}` },
    });
    expect(JSON.stringify(await trust.json())).toContain(bob.subject);
    await bobItem.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await bobItem.waitFor({ state: 'detached' });
    await expect(page.getByRole('region', { name: /Endorsers/ }).textContent()).resolves.not.toContain(
      'CN=Bob',
    );

    // an upstream list that cannot be fetched: the page shows the status and the last error
    await page.getByLabel('List URL').fill('http://127.0.0.1:1/trust/list.yaml');
    await page.getByLabel('Signer issuer DN', { exact: true }).fill(fx.pki.site.rule.issuer);
    await page.getByLabel('Signer subject DN', { exact: true }).fill(fx.pki.site.rule.subject);
    await page.getByRole('button', { name: 'Subscribe' }).click();
    const upstream = page.getByRole('region', { name: 'Upstream trust list' });
    await upstream.getByText('pending', { exact: true }).waitFor();
    await upstream.getByRole('button', { name: 'Sync now' }).click();
    await upstream.getByText(/^Last error: /).waitFor();
    await expect(upstream.locator('.badge').first().textContent()).resolves.toBe('error');
    await shot(page, 'desktop-trust-upstream-error');
    await upstream.getByRole('button', { name: 'Unsubscribe' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Unsubscribe' }).click();
    await page
      .getByRole('region', { name: 'Upstream trust list' })
      .getByText('This site follows no upstream trust list.')
      .waitFor();

    await open(page, '/users', 'Users');
    await page.getByLabel('Name', { exact: true }).fill('reader-rita');
    await page.getByLabel('Password (12 characters or more)').fill('rita reads the catalogs');
    await page.getByRole('button', { name: 'Add user' }).click();
    await expect(
      page.getByRole('status').filter({ hasText: 'User reader-rita added' }).textContent(),
    ).resolves.toMatch(/TOTP secret now.*[A-Z2-7]{32}.*otpauth:\/\/totp\//);

    await open(page, '/tokens', 'Your tokens');
    await page.getByLabel('Label').fill('ci-reader');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page
      .locator('.token-flash')
      .getByText(/copy it now/)
      .waitFor();
    const shown = await page.locator('.token-flash').textContent();
    const token = /tsw_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}/.exec(shown ?? '')?.[0] ?? '';
    expect(
      (await fetch(`${fx.server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    await page
      .getByRole('row')
      .filter({ hasText: 'ci-reader' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row').filter({ hasText: 'ci-reader' }).getByText('revoked').waitFor();
    expect(
      (await fetch(`${fx.server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
  });

  it('is readable at phone width: no sideways scrolling, long DNs wrap', async () => {
    const phone = await browser.newContext({ viewport: viewports.phone, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    await p.goto(`${fx.server.url}/ui/`);
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(p, 'phone-sign-in');
    await signIn(p, adminName, adminPassword, totpCode(fx.totpSecret));
    const pages: [string, string, string | RegExp][] = [
      ['dashboard', '/', 'Dashboard'],
      ['catalogs', '/catalogs', 'Catalogs'],
      ['catalog-detail', `/catalogs/${fx.big.id}`, 'bulk-snapshots v1'],
      ['approvals', `/sites/${site}/approvals`, `Approvals for ${site}`],
      ['trust', `/sites/${site}/trust`, `Trust list of ${site}`],
      ['agents', `/sites/${site}/agents`, `Agent download for ${site}`],
      ['audit', '/audit', 'Audit log'],
      ['drafts', '/drafts', 'Drafts'],
      ['users', '/users', 'Users'],
      ['tokens', '/tokens', 'Your tokens'],
    ];
    for (const [name, hash, heading] of pages) {
      await open(p, hash, heading);
      const overflow = await p.evaluate(widestOverflow);
      expect(overflow, `${name} scrolls sideways at phone width`).toBe('');
      await shot(p, `phone-${name}`);
    }
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    await phone.close();
  });

  it('lets an endorser prepare a draft: upload with progress, then the shown command signs it', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop });
    const p = await context.newPage();
    await signIn(p, 'alice', endorserPassword);
    const catalogId = fx.small.catalog.id;
    await p.getByRole('link', { name: 'Drafts' }).click();
    await p.getByRole('link', { name: 'cern-vm-images: draft of v2' }).click();
    await p.getByRole('heading', { level: 1, name: 'Draft of cern-vm-images v2' }).waitFor();
    await expect(p.locator('main').textContent()).resolves.toContain('No draft yet');

    const artifact = randomBytes(20 * 1024 * 1024);
    const torrent = await makeTorrent(artifact, 'vm64-rocky9.qcow2');
    await p.getByLabel('Name', { exact: true }).fill('vm64-rocky9');
    await p.getByLabel('Version', { exact: true }).fill('9.5');
    await p
      .getByLabel('Artifact file')
      .setInputFiles({ name: 'vm64-rocky9.qcow2', mimeType: 'application/octet-stream', buffer: artifact });
    await p
      .getByLabel('.torrent file')
      .setInputFiles({ name: 'vm64-rocky9.torrent', mimeType: 'application/x-bittorrent', buffer: torrent });
    await p.evaluate(recordProgress);
    await p.getByRole('button', { name: 'Add entry' }).click();
    await p.locator('.flash').getByText('Entry vm64-rocky9 9.5 added (20.0 MiB uploaded).').waitFor();
    // 8 MiB chunks: the bar moved through 40 % and 80 % before 100 %
    expect(await p.evaluate('window.__progress')).toEqual(
      expect.arrayContaining(['uploaded 40 % of 20.0 MiB', 'uploaded 100 % of 20.0 MiB']),
    );
    const sha256 = createHash('sha256').update(artifact).digest('hex');
    const stored = await fetch(`${fx.server.url}/artifacts/${sha256}`, { method: 'HEAD' });
    expect(stored.status).toBe(200);
    expect(stored.headers.get('content-length')).toBe(String(artifact.length));
    const command = await p.locator('pre[aria-label="Sign command"]').textContent();
    expect(command).toBe(
      `tsw-endorse draft sign ${catalogId} --server ${fx.server.url} --token-file ~/.tsw-token`,
    );
    await shot(p, 'desktop-draft');

    // what the command does: sign the exact bytes whose sha256 the page shows, upload the signature
    const draft = await fetch(`${fx.server.url}/api/v1/catalogs/${catalogId}/draft`, {
      headers: { authorization: `Bearer ${fx.aliceToken}` },
    });
    const bytes = new Uint8Array(await draft.arrayBuffer());
    await expect(p.locator('main').textContent()).resolves.toContain(
      String(draft.headers.get('x-trustswarm-sha256')),
    );
    const signed = await fetch(`${fx.server.url}/api/v1/catalogs/${catalogId}/draft/signatures`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.aliceToken}`, 'content-type': 'application/pkcs7-signature' },
      body: signDetached(bytes, fx.pki.endorsers.alice),
    });
    expect(signed.status).toBe(201);
    await open(p, `/catalogs/${catalogId}`, 'cern-vm-images v2');
    await expect(p.locator('main').textContent()).resolves.toContain('vm64-rocky9');
    await context.close();
  });

  it('signs out: the session token is revoked on the server', async () => {
    const token = String(await page.evaluate("sessionStorage.getItem('tsw.session')"));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const me = await fetch(`${fx.server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);
  });
});
