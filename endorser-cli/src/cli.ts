#!/usr/bin/env node
// tsw-endorse: the endorser's tool. Parses arguments, builds the context, runs one
// command, prints its result (text or --json) and turns every failure into one line.

import { Command, CommanderError, Option } from 'commander';
import { registerAddCommands } from './commands/register-add.js';
import { registerCoreCommands } from './commands/register-core.js';
import { CliError, EXIT, messageOf } from './lib/errors.js';
import { runAction } from './lib/run.js';

export const PROGRAM = 'tsw-endorse';

function buildProgram(): Command {
  const program = new Command(PROGRAM)
    .description('Endorse artifacts: build, sign, verify and publish TrustSwarm catalogs.')
    .version('0.1.0')
    .addOption(new Option('--json', 'print the result as JSON on stdout'))
    .addOption(
      new Option('-C, --workspace <dir>', 'workspace directory holding catalog.yaml').env(
        'TSW_ENDORSE_WORKSPACE',
      ),
    )
    .addOption(new Option('--config <file>', 'config file (default ~/.config/trustswarm/endorse.yaml)'))
    .addOption(new Option('--cert <file>', 'certificate PEM (default ~/.globus/usercert.pem)'))
    .addOption(new Option('--key <file>', 'private key PEM (default ~/.globus/userkey.pem)'))
    .addOption(new Option('--pkcs12 <file>', 'PKCS#12 file holding certificate and key'))
    .addOption(new Option('--passphrase-file <file>', 'file whose first line is the key passphrase'))
    .showHelpAfterError(false)
    .addHelpText(
      'after',
      `
--print-config is the same as the config command.

Exit codes: 0 ok; 1 bad input or state; 2 usage or config error; 3 verification failed;
4 identity problem (missing key, wrong passphrase, certificate not valid); 5 server or registry.`,
    );
  registerCoreCommands(program);
  registerAddCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ outputError: () => {} });
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
    for (const sub of cmd.commands) {
      sub.exitOverride();
      sub.configureOutput({ outputError: () => {} });
    }
  }
  // --print-config, as the other TrustSwarm binaries spell it, is the `config` command.
  const args = argv.includes('--print-config')
    ? [...argv.filter((a) => a !== '--print-config'), 'config']
    : argv;
  try {
    await program.parseAsync(args);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.help' || err.code === 'commander.helpDisplayed') {
        process.exitCode = 0;
        return;
      }
      const message = err.message.replace(/^error: /, '');
      runAction.reportError(new CliError('USAGE', message), argv.includes('--json'));
      process.exitCode = EXIT.usage;
      return;
    }
    runAction.reportError(new CliError('IO_ERROR', messageOf(err)), argv.includes('--json'));
    process.exitCode = EXIT.failure;
  }
}

await main(process.argv);
