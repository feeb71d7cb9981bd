// Where a key passphrase comes from: a file, an environment variable, or a prompt when a
// person is at a terminal. Never from argv (it would show in `ps`).

import { readFileSync } from 'node:fs';
import { read } from 'read';
import { expandPath } from './config.js';
import { CliError, fsError } from './errors.js';

export interface PassphraseSource {
  file?: string | undefined;
  envName: string;
  env?: NodeJS.ProcessEnv;
}

export async function obtainPassphrase(source: PassphraseSource, what: string): Promise<string> {
  if (source.file) {
    try {
      // Only the first line counts, so a trailing newline from `echo pw > file` is fine.
      return readFileSync(expandPath(source.file), 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw fsError(err, `passphrase file ${source.file}`);
    }
  }
  const fromEnv = (source.env ?? process.env)[source.envName];
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    return read({ prompt: `Passphrase for ${what}: `, silent: true, replace: '', output: process.stderr });
  }
  throw new CliError(
    'PASSPHRASE_REQUIRED',
    `${what} is encrypted: give the passphrase with --passphrase-file, $${source.envName} or at a terminal`,
  );
}
