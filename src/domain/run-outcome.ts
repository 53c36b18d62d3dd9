import { DETAILS, type OutcomeReason, type RunState } from './run-states.js';

/** How a run's main process ended, as an executor reports it. Both null: unknown (never treated as success). */
export interface ExitStatus {
  exitCode: number | null;
  signal: string | null;
  /**
   * The run ran out of something: the kernel killed a process for memory, its volume filled, or it was killed for
   * holding the most open files while all runs together held more than the server allows.
   */
  exhausted?: 'memory' | 'blockStorage' | 'openFiles';
}

/** What of a run decides its outcome besides its exit status. */
export interface EndingRun {
  lifecycleState: RunState;
  /** Why a cancel was asked (a user's cancel, or the maximum runtime); null: none was. */
  stopReason: 'cancel' | 'timeout' | null;
  maximumRuntimeInMinutes: number;
  memoryInGBs: number;
  blockStorageSizeInGBs: number | null;
}

export interface RunOutcome {
  to: RunState;
  reason: OutcomeReason;
  details: string;
  /** Which lifecycle event the ending is. */
  event: 'timeout' | 'canceled' | 'failed' | 'succeeded';
}

/**
 * The one rule for how a run ends, from its state and its exit status. A cancel asked for wins over the exit (the
 * run was stopped, whatever it returned), the maximum runtime's cancel is a failure; then what the run exhausted,
 * then its exit code, then the signal that killed it; with none of these, the run is lost (its outcome unknown,
 * never a success). `error` says why it is unknown, when something does.
 */
export function runOutcome(run: EndingRun, status: ExitStatus, error?: string): RunOutcome {
  if (run.lifecycleState === 'CANCELING' && run.stopReason === 'timeout') {
    return { to: 'FAILED', reason: 'timeout', details: DETAILS.timeout(run.maximumRuntimeInMinutes), event: 'timeout' };
  }
  if (run.lifecycleState === 'CANCELING') return { to: 'CANCELED', reason: 'canceled', details: DETAILS.canceled, event: 'canceled' };
  if (status.exhausted === 'memory') return { to: 'FAILED', reason: 'oom', details: DETAILS.outOfMemory(run.memoryInGBs), event: 'failed' };
  if (status.exhausted === 'blockStorage') {
    return { to: 'FAILED', reason: 'block_storage_full', details: DETAILS.blockStorageFull(run.blockStorageSizeInGBs ?? 0), event: 'failed' };
  }
  if (status.exhausted === 'openFiles') return { to: 'FAILED', reason: 'open_files', details: DETAILS.openFiles, event: 'failed' };
  if (status.exitCode === 0) return { to: 'SUCCEEDED', reason: 'exit', details: DETAILS.succeeded, event: 'succeeded' };
  if (status.exitCode !== null) return { to: 'FAILED', reason: 'exit', details: DETAILS.failedExit(status.exitCode), event: 'failed' };
  if (status.signal !== null) return { to: 'FAILED', reason: 'exit', details: DETAILS.failedSignal(status.signal), event: 'failed' };
  return { to: 'FAILED', reason: 'lost', details: error ? `${DETAILS.lost} (${error})` : DETAILS.lost, event: 'failed' };
}
