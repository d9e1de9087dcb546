// A frame-timing probe for the UI benchmark (16 panes at 200 tokens/s each): while sampling, a
// requestAnimationFrame loop records the interval between frames into a fixed ring buffer. A long
// interval is a frame the page made late (layout, script or paint took too long).
//
// Exposed as `window.__modelbenchFrames`: `reset()` clears and starts sampling, `stop()` stops,
// `longestMs`, `over16Share` and `count` read the samples (`snapshot()` returns them, with the
// 99th percentile, as one plain object for WebDriver). Sampling also starts at load with
// `?probe`. Idle, the probe costs nothing.

/** A 60 Hz frame's budget plus the vsync jitter a healthy frame still shows. An interval above
 * this missed at least one display refresh. */
export const LATE_FRAME_MS = 1000 / 60 + 2;
const CAPACITY = 4096;

export interface FrameStats {
  longestMs: number;
  /** The share (0..1) of intervals longer than a 60 Hz frame (see `LATE_FRAME_MS`). */
  over16Share: number;
  count: number;
  /** The 99th percentile interval (nearest rank); 0 with no interval. */
  p99Ms: number;
}

export interface FrameProbe extends FrameStats {
  reset(): void;
  stop(): void;
  snapshot(): FrameStats;
  readonly sampling: boolean;
}

export interface FrameClock {
  requestFrame(callback: (time: number) => void): number;
  cancelFrame(handle: number): void;
}

const browserClock: FrameClock = {
  requestFrame: (callback) => requestAnimationFrame(callback),
  cancelFrame: (handle) => cancelAnimationFrame(handle),
};

export function createFrameProbe(clock: FrameClock = browserClock): FrameProbe {
  const intervals = new Float64Array(CAPACITY);
  let written = 0;
  let previous: number | undefined;
  let handle: number | undefined;

  const onFrame = (time: number): void => {
    if (previous !== undefined) {
      intervals[written % CAPACITY] = time - previous;
      written += 1;
    }
    previous = time;
    handle = clock.requestFrame(onFrame);
  };

  const stats = (): FrameStats => {
    const count = Math.min(written, CAPACITY);
    let longest = 0;
    let late = 0;
    for (let index = 0; index < count; index += 1) {
      const interval = intervals[index] ?? 0;
      longest = Math.max(longest, interval);
      if (interval > LATE_FRAME_MS) {
        late += 1;
      }
    }
    const sorted = intervals.slice(0, count).sort();
    const p99Ms = count === 0 ? 0 : (sorted[Math.ceil(0.99 * count) - 1] ?? 0);
    return { longestMs: longest, over16Share: count === 0 ? 0 : late / count, count, p99Ms };
  };

  const stop = (): void => {
    if (handle !== undefined) {
      clock.cancelFrame(handle);
      handle = undefined;
    }
    previous = undefined;
  };

  return {
    get longestMs() {
      return stats().longestMs;
    },
    get over16Share() {
      return stats().over16Share;
    },
    get count() {
      return stats().count;
    },
    get p99Ms() {
      return stats().p99Ms;
    },
    get sampling() {
      return handle !== undefined;
    },
    snapshot: stats,
    stop,
    reset() {
      stop();
      written = 0;
      handle = clock.requestFrame(onFrame);
    },
  };
}

declare global {
  interface Window {
    __modelbenchFrames?: FrameProbe;
  }
}

/** Puts the probe on `window`; starts it at once when the page was opened with `?probe`. */
export function installFrameProbe(target: Window = window): FrameProbe {
  const probe = createFrameProbe();
  target.__modelbenchFrames = probe;
  if (new URLSearchParams(target.location.search).has('probe')) {
    probe.reset();
  }
  return probe;
}
