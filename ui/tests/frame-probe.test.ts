import { describe, expect, it } from 'vitest';

import { LATE_FRAME_MS, createFrameProbe, type FrameClock } from '../src/lib/frame-probe';

class FakeClock implements FrameClock {
  callbacks = new Map<number, (time: number) => void>();
  next = 1;
  time = 0;

  requestFrame(callback: (time: number) => void): number {
    this.callbacks.set(this.next, callback);
    return this.next++;
  }

  cancelFrame(handle: number): void {
    this.callbacks.delete(handle);
  }

  /** Advances by `interval` and runs the pending frame callbacks. */
  frame(interval: number): void {
    this.time += interval;
    const pending = [...this.callbacks.values()];
    this.callbacks.clear();
    for (const callback of pending) {
      callback(this.time);
    }
  }
}

describe('frame probe', () => {
  it('measures frame intervals once started, and resets', () => {
    const clock = new FakeClock();
    const probe = createFrameProbe(clock);
    expect(probe.sampling).toBe(false);
    clock.frame(16);
    expect(probe.count).toBe(0);

    probe.reset();
    for (const interval of [17, 16, 50, 17, 34]) {
      clock.frame(interval);
    }
    // The first callback only sets the starting time.
    expect(probe.snapshot()).toEqual({ longestMs: 50, over16Share: 2 / 4, count: 4, p99Ms: 50 });
    expect(LATE_FRAME_MS).toBeGreaterThan(16.7);

    probe.reset();
    expect(probe.count).toBe(0);
    clock.frame(16);
    clock.frame(16);
    expect(probe.snapshot()).toEqual({ longestMs: 16, over16Share: 0, count: 1, p99Ms: 16 });

    probe.stop();
    clock.frame(100);
    expect(probe.sampling).toBe(false);
    expect(probe.longestMs).toBe(16);
  });
});
