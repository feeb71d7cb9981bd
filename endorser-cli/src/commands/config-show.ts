// config: the effective configuration, so a user can see where each value came from.

import { stringify } from 'yaml';
import { defaultConfigPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';

export function configShow(ctx: Context): CommandResult {
  return {
    data: { config: ctx.config, defaultConfigFile: defaultConfigPath() },
    text: `# effective configuration (file: ${process.env.TSW_CONFIG ?? defaultConfigPath()})\n${stringify(ctx.config)}`,
  };
}
