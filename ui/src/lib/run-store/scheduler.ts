// When the run store draws: animation frames, a monotonic clock and a repeating timer, behind one
// interface so tests drive frames and time by hand (tests/helpers.ts).
//
// Left out: what a frame draws (the store's `#frame`) and how often (the store's constants).

export interface Scheduler {
  requestFrame(callback: () => void): void;
  /** Monotonic milliseconds. */
  now(): number;
  /** Repeats `callback` every `ms` until the returned function is called. */
  every(ms: number, callback: () => void): () => void;
}

export const browserScheduler: Scheduler = {
  requestFrame: (callback) => {
    requestAnimationFrame(() => callback());
  },
  now: () => performance.now(),
  every: (ms, callback) => {
    const handle = setInterval(callback, ms);
    return () => clearInterval(handle);
  },
};
