// The `run` command: registered on the tsw-bridge program by cli.ts with one call.
import type { Command } from 'commander';
import { pino } from 'pino';
import type { BridgeConfig } from '../config.js';
import { startRunner } from './runner.js';

export function registerFlowCommands(program: Command, configOf: () => { config: BridgeConfig }): void {
  program
    .command('run')
    .description(
      'run the flows the config enables: approved content → CVMFS, S3 bucket events, repository requests',
    )
    .action(async () => {
      const { config } = configOf();
      const logger = pino({ base: { daemon: 'tsw-bridge' } });
      const runner = await startRunner(config, logger);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping');
          void runner.stop().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
