// What every command receives: the effective config, the workspace, and how to print.

import type { Config, ConfigOverrides } from './config.js';
import { expandPath, loadConfig } from './config.js';
import { Workspace } from './workspace.js';

export interface GlobalOptions {
  json?: boolean;
  workspace?: string;
  config?: string;
  cert?: string;
  key?: string;
  pkcs12?: string;
  passphraseFile?: string;
}

export interface Context {
  config: Config;
  workspace: Workspace;
  json: boolean;
  /** Whether a progress bar may be drawn (stderr is a terminal and output is not JSON). */
  interactive: boolean;
}

/** A command's outcome: `data` is printed with --json, `text` otherwise. */
export interface CommandResult {
  data: Record<string, unknown>;
  text: string;
  /** Non-zero when the command ran but its verdict is negative (e.g. verify). */
  exitCode?: number;
}

export function makeContext(global: GlobalOptions, overrides: ConfigOverrides = {}): Context {
  const config = loadConfig({
    ...(global.config ? { configFile: global.config } : {}),
    overrides: {
      workspace: global.workspace,
      'identity.certFile': global.cert,
      'identity.keyFile': global.key,
      'identity.pkcs12File': global.pkcs12,
      'identity.passphraseFile': global.passphraseFile,
      ...overrides,
    },
  });
  const json = global.json === true;
  return {
    config,
    workspace: new Workspace(expandPath(config.workspace)),
    json,
    interactive: !json && process.stderr.isTTY === true,
  };
}
