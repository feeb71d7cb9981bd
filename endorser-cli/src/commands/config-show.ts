// config: the effective configuration, so a user can see where each value came from.

import { stringify } from 'yaml';
import { CONFIG_FILE_ENV, defaultConfigPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';

export function configShow(ctx: Context): CommandResult {
  return {
    data: { config: ctx.config, defaultConfigFile: defaultConfigPath() },
    text: `# effective configuration (file: ${process.env[CONFIG_FILE_ENV] ?? defaultConfigPath()})\n${stringify(ctx.config)}`,
  };
}
