/** How long-running commands (`tinykv server`, `tinykv scheduler`, `tinykv playground`) learn to stop. */
import type { Logger } from '../util/log.js';
import { EXIT } from './exit_codes.js';
import { LIFELINE_ENV } from './processes.js';

/**
 * Resolves on the first SIGINT/SIGTERM; a second signal exits at once.
 * Installed before the server starts, so a signal that arrives while it
 * starts (or right after it announced its address) is never missed. A child
 * of the playground or the chaos test (LIFELINE_ENV set) also stops when its
 * stdin closes: its parent died.
 */
export function firstSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    if (process.env[LIFELINE_ENV] === '1') {
      process.stdin.on('data', () => {});
      process.stdin.on('end', () => {
        logger.warn('the parent process is gone: stopping');
        resolve('SIGTERM');
      });
      // Watching the pipe must not keep a stopped process alive.
      (process.stdin as { unref?: () => void }).unref?.();
    }
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(EXIT.failed);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
