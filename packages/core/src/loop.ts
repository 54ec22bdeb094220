/**
 * A background loop on a `Clock`: runs one async step at a time, sleeps for what the step asks,
 * runs again at once when woken, and backs off (capped, exponential) when a step throws.
 */
import type { Clock, ClockTimer } from './clock';

/** Tuning of a `Loop`. */
export interface LoopOptions {
  /** The first back-off after a failed step, ms (default 100). */
  backoffBaseMs?: number;
  /** The longest back-off, ms (default 30,000). */
  backoffMaxMs?: number;
  /** Called with each error a step throws; must not throw. */
  onError: (error: unknown, failures: number) => void;
}

/**
 * Runs `step` repeatedly. The step returns how long to sleep (ms) before its next run; 0 means
 * "run again now" (it made progress and may have more). `wake()` cuts a sleep short; a wake
 * during a step makes the step run again right after. Never runs two steps at once.
 */
export class Loop {
  readonly #clock: Clock;
  readonly #step: () => Promise<number>;
  readonly #options: Required<LoopOptions>;
  #timer: ClockTimer | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #active = false;
  #failures = 0;

  /** Creates a stopped loop. */
  constructor(clock: Clock, step: () => Promise<number>, options: LoopOptions) {
    this.#clock = clock;
    this.#step = step;
    this.#options = { backoffBaseMs: 100, backoffMaxMs: 30_000, ...options };
  }

  /** Consecutive failed steps (0 when the last step succeeded). */
  get failures(): number {
    return this.#failures;
  }

  /** Starts the loop: its first step runs at once. */
  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.wake();
  }

  /** Runs the step as soon as possible (now, or right after the one running). */
  wake(): void {
    if (!this.#active) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#clearTimer();
    this.#running = this.#run();
  }

  /** Stops: no step starts after this; resolves when the running step (if any) has ended. */
  async stop(): Promise<void> {
    this.#active = false;
    this.#clearTimer();
    await this.#running;
  }

  async #run(): Promise<void> {
    let delay = 0;
    let spins = 0;
    try {
      for (;;) {
        this.#again = false;
        try {
          delay = await this.#step();
          this.#failures = 0;
        } catch (err) {
          this.#failures++;
          delay = Math.min(
            this.#options.backoffMaxMs,
            this.#options.backoffBaseMs * 2 ** Math.min(this.#failures - 1, 30),
          );
          try {
            this.#options.onError(err, this.#failures);
          } catch {
            // onError must not throw; if it does, the loop still goes on.
          }
          this.#again = false;
        }
        if (!this.#active) return;
        // Run again at once when woken mid-step or when the step has more to do, a bounded
        // number of times in a row; then yield to the clock with a zero-length timer.
        if ((this.#again || delay <= 0) && this.#failures === 0 && ++spins < 50) continue;
        break;
      }
    } finally {
      this.#running = null;
    }
    if (!this.#active) return;
    this.#timer = this.#clock.setTimer(
      () => {
        this.#timer = null;
        this.wake();
      },
      Math.max(0, delay),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = null;
    }
  }
}
