// add image | repo-snapshot | container-image.

import type { Command } from 'commander';
import { runAction as action, lazy } from '../lib/run.js';
import { collect } from './register-core.js';

function entryOptions(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'entry name (default: from the file name)')
    .option('--entry-version <version>', 'entry version (default: the file modification time)')
    .option('--title <text>', 'human title')
    .option('--description <text>', 'free text')
    .option('--vo <tag>', 'VO tag (repeatable)', collect)
    .option('--cluster <name>', 'distribution cluster')
    .option('--subcluster <name>', 'distribution subcluster')
    .option('--host <name>', 'distribution host (repeatable)', collect)
    .option('--id <uuid>', 'entry id (default: a new UUID)');
}

export function registerAddCommands(program: Command): void {
  const add = program.command('add').description('add an artifact to the catalog (raises the version)');
  entryOptions(
    add
      .command('image <files...>')
      .description('VM image(s): sha256 (+sha512), .torrent and image metadata in one read of each file'),
  )
    .option('--os <os>', 'operating system')
    .option('--os-version <version>', 'operating system version')
    .option('--arch <arch>', 'architecture, e.g. x86_64')
    .option('--hypervisor <name>', 'hypervisor, e.g. kvm')
    .option('--format <format>', 'disk format, e.g. qcow2')
    .option('--sha512', 'also compute sha512 (HEPiX compatibility)')
    .action(action(lazy(() => import('./add-image.js'), 'addImage')));
  entryOptions(
    add
      .command('repo-snapshot <source>')
      .description('a software-repository snapshot (directory → deterministic tar, or a tar) for CVMFS'),
  )
    .requiredOption('--repository <name>', 'CVMFS repository, e.g. sw.example.org')
    .requiredOption('--path <path>', 'absolute path inside the repository, e.g. /cms/14.0.0')
    .option('--preserve', 'keep owners, modes and times instead of normalising them')
    .option('--sha512', 'also compute sha512')
    .action(action(lazy(() => import('./add-snapshot.js'), 'addRepoSnapshot')));
  entryOptions(
    add
      .command('container-image <reference>')
      .description(
        'a container image: resolves the manifest digest from the registry (OCI distribution API)',
      ),
  )
    .requiredOption('--repository <name>', 'CVMFS repository the bridge unpacks it into')
    .option('--path <path>', 'path in the repository (default /<registry>/<repo>:<tag>)')
    .option('--insecure', 'plain HTTP to the registry (also: config registry.insecureHosts)')
    .option('--username <name>', 'registry user; the password comes from $TSW_ENDORSE_REGISTRY_PASSWORD')
    .action(action(lazy(() => import('./add-container.js'), 'addContainerImage')));
}
