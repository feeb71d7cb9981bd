// Commands about catalogs as a whole: catalog *, sign, verify, config.

import { type Command, InvalidArgumentError } from 'commander';
import { runAction as action, lazy } from '../lib/run.js';

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

export function registerCoreCommands(program: Command): void {
  program
    .command('init')
    .description('make a new RSA key and certificate request (or install the certificate your CA returned)')
    .option('--subject <dn>', 'subject in slash form (default /DC=org/DC=trustswarm-dev/OU=people/CN=<cn>)')
    .option('--cn <name>', 'common name for the default subject (default: your user name)')
    .option('--bits <n>', 'RSA key size', intArg, 2048)
    .option('--no-encrypt', 'write the key without a passphrase')
    .option('--install-cert <file>', 'install the certificate your CA returned for the request')
    .option('--dev-ca <dir>', 'issue the certificate from a local test CA in DIR (made on first use)')
    .option('--force', 'replace an existing key')
    .action(action(lazy(() => import('./init.js'), 'init')));

  const catalog = program.command('catalog').description('create and edit the catalog of the workspace');
  catalog
    .command('new <name>')
    .description('start a new catalog (version 1, no entries)')
    .option('--description <text>', 'free text shown to site admins')
    .option('--lifetime-days <n>', 'days until the catalog expires (config catalog.lifetimeDays)', intArg)
    .option('--id <uuid>', 'catalog id (default: a new UUID)')
    .action(action(lazy(() => import('./catalog.js'), 'catalogNew')));
  catalog
    .command('show')
    .description('print the catalog and its entries')
    .action(action(lazy(() => import('./catalog.js'), 'catalogShow')));
  catalog
    .command('set-expiry <when>')
    .description('set the expiry: an RFC 3339 UTC time or +Nd / +Nh; raises the version')
    .action(action(lazy(() => import('./catalog.js'), 'catalogSetExpiry')));
  catalog
    .command('remove <entry>')
    .description('remove an entry by id (or by name when unique); raises the version')
    .action(action(lazy(() => import('./catalog.js'), 'catalogRemove')));

  program
    .command('sign')
    .description('sign the exact bytes of catalog.yaml with your certificate (one .p7s per signer)')
    .option('--catalog <file>', 'sign this catalog file instead of the workspace one')
    .option('--out <dir>', 'directory for the signature (default: signatures/ beside the catalog)')
    .action(action(lazy(() => import('./sign.js'), 'sign')));

  program
    .command('verify')
    .description("run the agents' checks offline: every signature, the catalog, each entry")
    .option('--catalog <file>', 'verify this catalog file instead of the workspace one')
    .option('--signatures <dir>', 'directory of .p7s files (default: signatures/ beside the catalog)')
    .option('--ca <dir>', 'CApath directory of trusted CAs and CRLs (config verify.caPath)')
    .option('--threshold <n>', 'distinct valid endorsers required without an approval', intArg)
    .option('--approval <file>', 'also decide as a site would, with this approval.yaml')
    .option('--approval-signature <file>', 'signature of the approval (default: <approval>.p7s)')
    .option('--site-cert <file>', 'the site certificate whose approvals are believed (repeatable)', collect)
    .option('--site <name>', 'expected site name in the approval')
    .option('--check-artifacts', 're-hash the local artifact files as well')
    .action(action(lazy(() => import('./verify.js'), 'verifyFromFlags')));

  program
    .command('publish')
    .description('upload torrents, artifacts (resumable) and then the signed catalog to the catalog server')
    .option('--server <url>', 'catalog server base URL (config server.url)')
    .option('--token-file <file>', 'file holding the API token (or $TSW_ENDORSE_SERVER_TOKEN)')
    .option('--ca <dir>', 'CApath used to check the signatures before sending (config verify.caPath)')
    .option('--skip-artifacts', 'do not upload artifact bytes (the server already has them)')
    .option('--signatures-only', 'only add your signatures to a version already published (after pull)')
    .action(action(lazy(() => import('./publish.js'), 'publish')));

  program
    .command('draft')
    .description('catalog versions prepared on the catalog server')
    .command('sign <id>')
    .description('fetch the draft of catalog <id>, check and sign its exact bytes here, upload the signature')
    .option('--server <url>', 'catalog server base URL (config server.url)')
    .option('--token-file <file>', 'file holding the API token (or $TSW_ENDORSE_SERVER_TOKEN)')
    .action(action(lazy(() => import('./draft.js'), 'draftSign')));

  program
    .command('pull <id> <version>')
    .description('fetch a published catalog version and its signatures, to check and co-sign it')
    .option('--server <url>', 'catalog server (or any mirror of the static layout)')
    .action(action(lazy(() => import('./pull.js'), 'pull')));

  program
    .command('diff <a> <b>')
    .description('what changed between two catalogs: version numbers from history/ or catalog files')
    .action(action(lazy(() => import('./diff.js'), 'diff')));

  program
    .command('import-hepix <file>')
    .description(
      'turn an S/MIME-signed HEPiX image list (vmcaster) into catalog entries, after checking its signature',
    )
    .option('--ca <dir>', 'CApath that must vouch for the list signer (config verify.caPath)')
    .option('--files <dir>', 'directory holding the image files (matched by the name in hv:uri)')
    .option('--name <name>', 'catalog name when the workspace has none (default: from dc:title)')
    .action(action(lazy(() => import('./import-hepix.js'), 'importHepix')));

  program
    .command('config')
    .description('print the effective configuration (defaults < file < TSW_* env < flags)')
    .action(action(lazy(() => import('./config-show.js'), 'configShow')));
}
