import { DsError } from './errors.js';

/** OCI's job run states, the transition table and the only place that decides whether a transition is legal. */
export const RUN_STATES = [
  'ACCEPTED',
  'IN_PROGRESS',
  'FAILED',
  'SUCCEEDED',
  'CANCELING',
  'CANCELED',
  'DELETED',
  'NEEDS_ATTENTION',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL_RUN_STATES: readonly RunState[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];
export const ACTIVE_RUN_STATES: readonly RunState[] = ['ACCEPTED', 'IN_PROGRESS', 'CANCELING', 'NEEDS_ATTENTION'];
export const CANCELABLE_RUN_STATES: readonly RunState[] = ['ACCEPTED', 'IN_PROGRESS', 'NEEDS_ATTENTION'];

const TRANSITIONS: Record<RunState, readonly RunState[]> = {
  // ACCEPTED -> ACCEPTED: lifecycleDetails changes while queued or provisioning.
  ACCEPTED: ['ACCEPTED', 'IN_PROGRESS', 'FAILED', 'CANCELING', 'CANCELED'],
  IN_PROGRESS: ['SUCCEEDED', 'FAILED', 'CANCELING', 'NEEDS_ATTENTION'],
  NEEDS_ATTENTION: ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELING'],
  // A run being canceled may still end on its own before the signal lands: its real outcome is kept then.
  CANCELING: ['CANCELED', 'SUCCEEDED', 'FAILED'],
  SUCCEEDED: ['DELETED'],
  FAILED: ['DELETED'],
  CANCELED: ['DELETED'],
  DELETED: [],
};

export function isTerminal(state: RunState): boolean {
  return TERMINAL_RUN_STATES.includes(state);
}

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States from which `to` may be reached: the WHERE clause of a compare-and-set transition. */
export function sourcesOf(to: RunState): RunState[] {
  return RUN_STATES.filter((s) => TRANSITIONS[s].includes(to));
}

export function assertTransition(from: RunState, to: RunState): void {
  if (!canTransition(from, to)) {
    throw new DsError('IncorrectState', `A job run in state ${from} cannot move to ${to}.`);
  }
}

/** "90 minutes", or seconds for the fractional minutes dsjobs accepts ("5 seconds"). */
export function formatMinutes(m: number): string {
  if (Number.isInteger(m)) return `${m} minute${m === 1 ? '' : 's'}`;
  const s = Math.round(m * 60);
  return `${s} second${s === 1 ? '' : 's'}`;
}

/** lifecycleDetails texts as OCI writes them (reference §1.4), plus ours in the same style. */
export const DETAILS = {
  bootstrapStarting: 'Job run bootstrap starting.',
  inProgress: 'Job run artifact execution in progress.',
  succeeded: 'Job run artifact execution succeeded. Infrastructure de-provisioning.',
  failedExit: (code: number) => `Job run artifact execution failed with exit code ${code}.`,
  failedSignal: (signal: string) => `Job run artifact execution failed: the process was killed by signal ${signal}.`,
  canceling: 'Job run cancellation in progress.',
  canceled: 'Job run canceled.',
  timeoutCanceling: (minutes: number) =>
    `Job run exceeded its maximum runtime of ${formatMinutes(minutes)} and is being stopped.`,
  timeout: (minutes: number) => `Job run reached its maximum runtime of ${formatMinutes(minutes)} and was stopped.`,
  lost: 'Job run outcome could not be determined: its process left no exit status (it ended while the server was down, or while the data disk was full).',
  replicaLost: (replica: string, seconds: number) =>
    `Job run outcome could not be determined: the server replica ${replica} that ran it was lost (no heartbeat for more than ${seconds} seconds), with the run's process and logs on its machine.`,
  executorError: (msg: string) => `Job run could not be started: ${msg}`,
  outOfMemory: (gb: number) =>
    `Job run artifact execution failed: out of memory. A process was killed for using more than the shape's ${gb} GB of memory.`,
  logQuota: (bytes: number) => `Its log reached the quota of ${bytes} bytes: later output was dropped.`,
  openFiles:
    "Job run artifact execution failed: too many open files. All runs together held more open files than this server allows (openFilesMaxAllRuns), and this run held the most: it was killed.",
  blockStorageFull: (gb: number) =>
    `Job run artifact execution failed: block storage exhausted. The run's ${gb} GB volume is full (no space left on device).`,
} as const;

/** Why a run ended: data, not prose. An unknown outcome is never a success. */
export type OutcomeReason = 'exit' | 'timeout' | 'canceled' | 'lost' | 'executor_error' | 'oom' | 'block_storage_full' | 'open_files';
