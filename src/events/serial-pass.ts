/**
 * One pass of some work at a time, soon after it is asked for: a burst of kicks before a pass makes one pass, and
 * kicks during a pass make exactly one more after it. `stop()` refuses new passes and waits for the one in
 * progress. Used by the loops that follow the events table (webhook dispatch, trigger rules, sweeps), which are
 * kicked on every commit that wrote events.
 */
export class SerialPass {
  private scheduled = false;
  private running = false;
  private again = false;
  private stoppedFlag = false;
  private idle: Promise<void> = Promise.resolve();

  /** `work` handles its own errors: a pass that throws is logged by nobody. */
  constructor(private readonly work: () => Promise<void>) {}

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  kick(): void {
    if (this.scheduled || this.stoppedFlag) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /** A kick after `ms` (a retry after a failed pass, a timer for the next due item). */
  kickAfter(ms: number): NodeJS.Timeout | null {
    if (this.stoppedFlag) return null;
    const t = setTimeout(() => this.kick(), ms);
    t.unref();
    return t;
  }

  /** No pass starts after this; the one in progress goes on (it can check `stopped`). */
  halt(): void {
    this.stoppedFlag = true;
  }

  /** halt(), then wait for the pass in progress. */
  async stop(): Promise<void> {
    this.halt();
    await this.idle;
  }

  private async run(): Promise<void> {
    if (this.stoppedFlag) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    let release!: () => void;
    this.idle = new Promise((r) => (release = r));
    try {
      await this.work().catch(() => {});
    } finally {
      this.running = false;
      release();
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }
}
