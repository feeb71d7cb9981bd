// Runs one command: builds its context, prints the result, maps errors to one line and
// an exit status. The only place that writes to stdout/stderr for results and errors.

import { TrustError } from '@trustswarm/policy';
import type { Command } from 'commander';
import type { ConfigOverrides } from './config.js';
import { type CommandResult, type Context, type GlobalOptions, makeContext } from './context.js';
import { CliError, EXIT, messageOf } from './errors.js';

const PROGRAM = 'tsw-endorse';

function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof TrustError)
    return new CliError(
      'VERIFY_FAILED',
      err.message,
      err.reasons.map((r) => `${r.code}: ${r.message}`),
    );
  return new CliError('IO_ERROR', messageOf(err));
}

function reportError(err: CliError, json: boolean): void {
  // One line on stderr always; the structured form on stdout for scripts.
  process.stderr.write(`${PROGRAM}: error: ${err.message.split('\n')[0]}\n`);
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } })}\n`,
    );
}

type Handler = (ctx: Context, ...args: never[]) => CommandResult | Promise<CommandResult>;

/**
 * Wraps a command handler for commander: `overrides` maps the command's options to config
 * paths (flags win over env and file).
 */
function action<H extends Handler>(
  handler: H,
  overrides: (opts: Record<string, unknown>) => ConfigOverrides = () => ({}),
) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const opts = command.opts();
    const global = command.optsWithGlobals() as GlobalOptions;
    const positional = args.slice(0, -2);
    let json = global.json === true;
    try {
      const ctx = makeContext(global, overrides(opts));
      json = ctx.json;
      const result = await (
        handler as unknown as (...a: unknown[]) => CommandResult | Promise<CommandResult>
      )(ctx, ...positional, opts);
      process.stdout.write(json ? `${JSON.stringify(result.data, null, 2)}\n` : `${result.text}\n`);
      process.exitCode = result.exitCode ?? EXIT.ok;
    } catch (err) {
      const cliError = toCliError(err);
      reportError(cliError, json);
      process.exitCode = cliError.exitCode;
    }
  };
}

export const runAction = Object.assign(action, { reportError });

/**
 * A handler loaded only when its command runs, so `tsw-endorse catalog show` does not pay
 * for the modules of `import-hepix` or `add container-image` at start-up.
 */
export function lazy<M extends Record<string, unknown>>(
  load: () => Promise<M>,
  name: keyof M & string,
): Handler {
  return (async (ctx: Context, ...args: unknown[]) => {
    const module = await load();
    const handler = module[name] as (ctx: Context, ...a: unknown[]) => CommandResult | Promise<CommandResult>;
    return handler(ctx, ...args);
  }) as unknown as Handler;
}
