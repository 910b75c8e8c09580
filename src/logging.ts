import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal runtime's logger once per process, at `OPGRAPH_LOG_LEVEL` (default WARN,
 * so worker lifecycle chatter stays out of the way; INFO shows op logs).
 */
export function installRuntimeLogger(level: string = process.env.OPGRAPH_LOG_LEVEL ?? 'WARN'): void {
  if (installed) return;
  installed = true;
  const normalized = level.toUpperCase();
  const valid: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  try {
    Runtime.install({ logger: new DefaultLogger(valid.includes(normalized as LogLevel) ? (normalized as LogLevel) : 'WARN') });
  } catch {
    // A runtime already exists (the embedding app installed its own): keep it.
  }
}
