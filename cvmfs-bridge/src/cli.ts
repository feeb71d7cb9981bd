#!/usr/bin/env node
// tsw-bridge: create, publish, inspect, verify and maintain CernVM-FS repositories.
import { Command, InvalidArgumentError } from 'commander';
import * as commands from './cli/commands.js';
import { emit, failLine } from './cli/output.js';
import { type BridgeConfig, configEnvNames, loadConfig } from './config.js';
import { registerContainerCommands } from './containers/cli.js';
import { registerFlowCommands } from './flows/commands.js';

interface GlobalOptions {
  config?: string;
  storageDir?: string;
  stateDir?: string;
  backend?: string;
  lockWaitSeconds?: number;
  json?: boolean;
  printConfig?: boolean;
}

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

const program = new Command('tsw-bridge')
  .description('Publish content into CernVM-FS repositories written natively (no CVMFS server needed)')
  .option('--config <file>', 'YAML config file (default: $TSW_BRIDGE_CONFIG)')
  .option('--storage-dir <dir>', 'where public repository trees live (served over HTTP)')
  .option('--state-dir <dir>', 'where keys, caches and locks live (keep private)')
  .option('--backend <name>', 'native | cvmfs_server')
  .option(
    '--lock-wait-seconds <n>',
    'how long to wait for another writer of the repository (default: lockWaitSeconds, 60; 0 fails at once)',
    intArg,
  )
  .option('--json', 'machine-readable output')
  .option('--print-config', 'print the effective configuration and exit')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

function configOf(): { config: BridgeConfig; json: boolean } {
  const o = program.opts<GlobalOptions>();
  const config = loadConfig({
    ...(o.config ? { file: o.config } : {}),
    flags: {
      storageDir: o.storageDir,
      stateDir: o.stateDir,
      backend: o.backend,
      lockWaitSeconds: o.lockWaitSeconds,
    },
  });
  return { config, json: o.json === true };
}

const readOptions = (cmd: Command) =>
  cmd
    .option('--url <url>', 'read over HTTP from this repository URL instead of the local storage')
    .option('--key <file...>', 'master public key file(s) to trust (default: the repository own)');

const repo = program.command('repo').description('repository operations');
repo
  .command('create <fqrn>')
  .description('create a repository: master key, repository key + certificate, whitelist, empty root catalog')
  .action((fqrn: string) => {
    const { config, json } = configOf();
    commands.createRepo(config, fqrn, json);
  });
repo
  .command('publish <fqrn> <source>')
  .description('publish a directory (mirrored) or a tar archive (added; "-" reads stdin) as a new revision')
  .option('--path <path>', 'repository path to publish under', '/')
  .option('--tag <name>', 'name the new revision')
  .option('--checksum', 'hash every file instead of trusting size+mtime for unchanged files')
  .option('--allow-absolute-symlinks', 'accept absolute symlink targets in tar archives')
  .action(
    async (
      fqrn: string,
      source: string,
      o: { path?: string; tag?: string; checksum?: boolean; allowAbsoluteSymlinks?: boolean },
    ) => {
      const { config, json } = configOf();
      await commands.publish(config, fqrn, source, o, json);
    },
  );
readOptions(
  repo.command('ls <fqrn> [path]').description('list a directory of the published revision'),
).action(async (fqrn: string, path: string | undefined, o: { url?: string; key?: string[] }) => {
  const { config, json } = configOf();
  await commands.ls(config, fqrn, path ?? '/', o, json);
});
readOptions(
  repo.command('cat <fqrn> <path>').description('write a file of the published revision to stdout'),
).action(async (fqrn: string, path: string, o: { url?: string; key?: string[] }) => {
  const { config } = configOf();
  await commands.cat(config, fqrn, path, o, process.stdout);
});
readOptions(
  repo
    .command('verify <fqrn>')
    .description('check signatures, whitelist, every catalog and object of the published revision'),
).action(async (fqrn: string, o: { url?: string; key?: string[] }) => {
  const { config, json } = configOf();
  await commands.verify(config, fqrn, o, json);
});
repo
  .command('tag <fqrn>')
  .description('list, add or remove named tags (history database)')
  .option('--add <name>', 'tag the current revision (or --root-hash)')
  .option('--description <text>', 'description of the new tag')
  .option('--root-hash <hash>', 'root catalog hash of an earlier revision to tag')
  .option('--remove <name>', 'remove a tag')
  .action((fqrn: string, o: { add?: string; remove?: string; description?: string; rootHash?: string }) => {
    const { config, json } = configOf();
    commands.tag(config, fqrn, o, json);
  });
repo
  .command('resign <fqrn>')
  .description('re-sign the whitelist with the master key (run from cron/systemd timer)')
  .option('--days <n>', 'validity in days (default: whitelistDays)', intArg)
  .option(
    '--if-expires-within <days>',
    'only re-sign when the whitelist expires within this many days',
    intArg,
  )
  .action((fqrn: string, o: { days?: number; ifExpiresWithin?: number }) => {
    const { config, json } = configOf();
    commands.resign(config, fqrn, o, json);
  });
repo
  .command('gc <fqrn>')
  .description(
    'delete objects no kept revision references (current, tagged, replaced within the grace period)',
  )
  .option('--grace-seconds <n>', 'grace period (default: gcGraceSeconds)', intArg)
  .option('--dry-run', 'only report what would be deleted')
  .action((fqrn: string, o: { graceSeconds?: number; dryRun?: boolean }) => {
    const { config, json } = configOf();
    commands.gc(config, fqrn, o, json);
  });
repo
  .command('serve')
  .description('serve all repositories under storageDir at http://HOST:PORT/cvmfs/<fqrn>/ (for trying out)')
  .option('--host <host>', 'bind address (default: serveHost)')
  .option('--port <port>', 'port, 0 for any (default: servePort)', intArg)
  .action(async (o: { host?: string; port?: number }) => {
    const { config, json } = configOf();
    const effective = {
      ...config,
      ...(o.host ? { serveHost: o.host } : {}),
      ...(o.port !== undefined ? { servePort: o.port } : {}),
    };
    await commands.serve(effective, json);
  });
repo
  .command('client-config <fqrn>')
  .description('print the CVMFS client configuration and master public key for this repository')
  .option('--url <url>', 'URL clients use (default: publicUrl)')
  .action((fqrn: string, o: { url?: string }) => {
    const { config, json } = configOf();
    commands.printClientConfig(config, fqrn, o, json);
  });

registerContainerCommands(program);
registerFlowCommands(program, configOf);

program.hook('preAction', () => {
  const o = program.opts<GlobalOptions>();
  if (o.printConfig) {
    const { config, json } = configOf();
    emit(json, { config, env: configEnvNames() }, () => JSON.stringify(config, null, 2));
    process.exit(0);
  }
});

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${failLine(error)}\n`);
  process.exitCode = 1;
});
