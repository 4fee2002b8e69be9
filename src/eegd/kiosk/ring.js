// A fixed-size ring of the most recent trace entries of every channel. An entry is the (min, max)
// of its channel over `span` consecutive source samples from sample index `start`: a full-rate
// sample is an entry of span 1 with min = max, a decimated pair one of span = samples per pair.
// Entries keep their sample indices, so lost data is recognisable: two entries are joined only
// when the second starts where the first ends.

/** The last `capacity` entries per channel, in sample order; memory is allocated once. */
export class EnvelopeRing {
  constructor(channelCount, capacity) {
    this.channelCount = channelCount;
    this.capacity = capacity;
    this.starts = new Float64Array(capacity);
    this.spans = new Float64Array(capacity);
    this.lows = new Float32Array(channelCount * capacity);
    this.highs = new Float32Array(channelCount * capacity);
    this.count = 0;
    this.newest = -1;
  }

  /** Sequence number of the oldest entry still held; entries run from here to `count - 1`. */
  get oldest() {
    return Math.max(0, this.count - this.capacity);
  }

  /** Store full-rate channel-major samples (C × n) whose first sample has index `first`. */
  writeSamples(samples, n, first) {
    for (let i = Math.max(0, n - this.capacity); i < n; i += 1) {
      const slot = this.claim(first + i, 1);
      if (slot < 0) continue;
      for (let c = 0; c < this.channelCount; c += 1) {
        const value = samples[c * n + i];
        this.lows[c * this.capacity + slot] = value;
        this.highs[c * this.capacity + slot] = value;
      }
    }
  }

  /** Store m (min, max) pairs per channel (C × 2m, interleaved), each over `span` samples. */
  writePairs(samples, m, first, span) {
    for (let i = Math.max(0, m - this.capacity); i < m; i += 1) {
      const slot = this.claim(first + i * span, span);
      if (slot < 0) continue;
      for (let c = 0; c < this.channelCount; c += 1) {
        this.lows[c * this.capacity + slot] = samples[c * 2 * m + 2 * i];
        this.highs[c * this.capacity + slot] = samples[c * 2 * m + 2 * i + 1];
      }
    }
  }

  /** The slot for a new entry, or -1 for one that is not after the newest (a repeat). */
  claim(start, span) {
    if (start <= this.newest) return -1;
    const slot = this.count % this.capacity;
    this.starts[slot] = start;
    this.spans[slot] = span;
    this.count += 1;
    this.newest = start + span - 1;
    return slot;
  }

  /** First sample index of entry `k` (a sequence number from `oldest` to `count - 1`). */
  start(k) {
    return this.starts[k % this.capacity];
  }

  /** How many source samples entry `k` covers. */
  span(k) {
    return this.spans[k % this.capacity];
  }

  /** Whether entry `k` begins exactly where entry `k - 1` ends (no samples lost between). */
  joined(k) {
    return k > this.oldest && this.start(k) === this.start(k - 1) + this.span(k - 1);
  }

  /** Minimum of channel `c` over entry `k`. */
  low(c, k) {
    return this.lows[c * this.capacity + (k % this.capacity)];
  }

  /** Maximum of channel `c` over entry `k`. */
  high(c, k) {
    return this.highs[c * this.capacity + (k % this.capacity)];
  }

  /** The first entry that covers sample `index` or comes after it (`count` when none does). */
  search(index) {
    let lo = this.oldest;
    let hi = this.count;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.start(mid) + this.span(mid) - 1 < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A copy holding the same entries in room for `capacity` (at least the current one). */
  resized(capacity) {
    const copy = new EnvelopeRing(this.channelCount, Math.max(capacity, this.capacity));
    for (let k = this.oldest; k < this.count; k += 1) {
      const slot = copy.claim(this.start(k), this.span(k));
      for (let c = 0; c < this.channelCount; c += 1) {
        copy.lows[c * copy.capacity + slot] = this.low(c, k);
        copy.highs[c * copy.capacity + slot] = this.high(c, k);
      }
    }
    return copy;
  }

  /** An independent copy, for a paused display while new data keeps arriving. */
  snapshot() {
    return this.resized(this.capacity);
  }
}
