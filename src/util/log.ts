/**
 * Structured logging (pino). Components take a `Logger` through their options
 * and add bindings with `child({ storeId, regionId })`; nothing logs through
 * a global.
 */
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(level: string): level is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(level);
}

/** A JSON logger writing to stderr, so stdout stays free for command output. */
export function createLogger(options: { level: LogLevel; name?: string }): Logger {
  return pino({ level: options.level, base: { name: options.name ?? 'tinykv', pid: process.pid } }, pino.destination(2));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
