/**
 * The `tinykv` command. Exit codes: 0 ok, 1 operation failed, 2 usage error,
 * 3 key not found, 4 transaction not committed because of a conflict (docs/CLI.md).
 */
import { Command, CommanderError } from 'commander';
import { ClientError, SchedulerError } from '../client/errors.js';
import { SchedulerServerError } from '../scheduler/server/scheduler_server.js';
import { RaftServerError } from '../server/raft_server.js';
import { NodeError } from '../server/node.js';
import { StandaloneError } from '../server/standalone.js';
import { StoreNodeError } from '../server/store_node.js';
import { EngineError } from '../storage/engine.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';
import { ProcessError } from './processes.js';
import { ctlCommand } from './ctl_commands.js';
import { rawCommand } from './raw_commands.js';
import { schedulerCommand } from './scheduler_command.js';
import { playgroundCommand, serverCommand } from './server_commands.js';
import { simCommand } from './sim_commands.js';
import { txnCommand } from './txn_commands.js';

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  const program = new Command('tinykv')
    .description('TinyKV.ts: a distributed transactional key-value store, wire-compatible with TinyKV')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError()
    .addCommand(serverCommand(setExit))
    .addCommand(playgroundCommand(setExit))
    .addCommand(rawCommand(setExit))
    .addCommand(txnCommand(setExit))
    .addCommand(ctlCommand(setExit))
    .addCommand(schedulerCommand(setExit))
    .addCommand(simCommand(setExit));
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err: unknown) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" in commander's exitOverride mode.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  // Operating errors with a message written for the user: no stack trace.
  const userFacing = [ClientError, SchedulerError, NodeError, ProcessError, EngineError, RaftServerError, StoreNodeError, StandaloneError, SchedulerServerError];
  if (err instanceof Error && userFacing.some((cls) => err instanceof cls)) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.failed;
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}
