/**
 * What the service reports as it works, for /metrics. The service calls these; the entry file implements them
 * (with prom-client) so the service stays free of any metrics library.
 */
export interface Telemetry {
  /** From acceptance to admission (a run waiting for capacity). */
  admissionWait(seconds: number): void;
  /** From admission to the run's process running. */
  startLatency(seconds: number): void;
  /** A run the executor could not start, or whose end it could not determine. */
  executorError(kind: 'start' | 'lost'): void;
}

export const noTelemetry: Telemetry = {
  admissionWait() {},
  startLatency() {},
  executorError() {},
};
