// A fixed-size ring of the most recent samples of every channel, indexed by absolute sample
// index, so lost frames leave slots that are recognisably stale instead of joining the trace.

/** The last `capacity` samples per channel; memory is allocated once per session. */
export class SampleRing {
  constructor(channelCount, capacity) {
    this.channelCount = channelCount;
    this.capacity = capacity;
    this.values = new Float32Array(channelCount * capacity);
    this.indexOf = new Float64Array(capacity).fill(-1);
    this.newest = -1;
  }

  /** Store channel-major samples (C × n) whose first sample has absolute index `first`. */
  write(samples, n, first) {
    const { capacity, channelCount, values, indexOf } = this;
    const start = n > capacity ? n - capacity : 0;
    for (let i = start; i < n; i += 1) {
      const index = first + i;
      const slot = index % capacity;
      indexOf[slot] = index;
      for (let c = 0; c < channelCount; c += 1) {
        values[c * capacity + slot] = samples[c * n + i];
      }
    }
    this.newest = Math.max(this.newest, first + n - 1);
  }

  /** Whether sample `index` is held (it was received and not yet overwritten). */
  has(index) {
    return index >= 0 && this.indexOf[index % this.capacity] === index;
  }

  /** The value of channel `c` at absolute sample `index`; check `has(index)` first. */
  value(c, index) {
    return this.values[c * this.capacity + (index % this.capacity)];
  }

  /** An independent copy, for a paused display while new data keeps arriving. */
  snapshot() {
    const copy = new SampleRing(this.channelCount, this.capacity);
    copy.values.set(this.values);
    copy.indexOf.set(this.indexOf);
    copy.newest = this.newest;
    return copy;
  }
}
