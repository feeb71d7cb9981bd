// The `run` command: registered on the tsw-bridge program by cli.ts with one call.
import type { Command } from 'commander';
import { pino } from 'pino';
import type { BridgeConfig } from '../config.js';
import { FlowError } from './errors.js';

export function registerFlowCommands(program: Command, configOf: () => { config: BridgeConfig }): void {
  program
    .command('run')
    .description(
      'run the flows the config enables: approved content → CVMFS, S3 bucket events, repository requests',
    )
    .action(async () => {
      const { config } = configOf();
      const logger = pino({ base: { daemon: 'tsw-bridge' } });
      // Loaded on demand: the other tsw-bridge commands need neither webtorrent nor the AWS SDK.
      const { startRunner } = await import('./runner.js');
      let runner: Awaited<ReturnType<typeof startRunner>>;
      try {
        runner = await startRunner(config, logger);
      } catch (error) {
        if (!(error instanceof FlowError)) throw error;
        // One line with the flow's own code (the shared CLI output knows only BridgeError codes).
        process.stderr.write(`tsw-bridge: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
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
