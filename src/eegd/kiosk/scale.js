// The traces' vertical scale: fixed steps the user picks, or a robust automatic choice among
// them that ignores rare spikes (blinks) and does not flicker between two steps.

/** Scales a user can pick: each lane spans ± this many µV. */
export const FIXED_STEPS_UV = [10, 20, 50, 100, 200, 500];
/** Scales the automatic mode may choose; wider than the fixed ones for unusual signals. */
export const AUTO_STEPS_UV = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

const PERCENTILE = 0.98;
const HEADROOM = 1.4;
const MAX_POINTS_PER_CHANNEL = 600;
const CALM_CHECKS_BEFORE_SHRINKING = 4;

/**
 * A robust amplitude in µV per channel of the entries in [from, to] (sample indices): the
 * 98th percentile of the largest |x| of each entry, so rare spikes (blinks) do not count.
 * Decimated entries hold each sample's extremes, so the scale fits the envelope that is
 * drawn. A channel with nothing held in the window gets null.
 */
export function channelAmplitudes(ring, from, to) {
  const first = ring.search(from);
  const end = ring.search(Math.floor(to) + 1);
  const stride = Math.max(1, Math.ceil((end - first) / MAX_POINTS_PER_CHANNEL));
  const points = new Float32Array(Math.ceil((end - first) / stride));
  const perChannel = [];
  for (let c = 0; c < ring.channelCount; c += 1) {
    let count = 0;
    for (let k = first; k < end; k += stride) {
      points[count] = Math.max(Math.abs(ring.low(c, k)), Math.abs(ring.high(c, k)));
      count += 1;
    }
    const sorted = points.subarray(0, count).sort();
    perChannel.push(count ? sorted[Math.min(count - 1, Math.floor(PERCENTILE * count))] : null);
  }
  return perChannel;
}

/**
 * The median over `channels` (indices; all when omitted) of their robust amplitudes, so one
 * blinking channel does not squash all the others; null when nothing is held.
 */
export function robustAmplitude(amplitudes, channels = null) {
  const chosen = (channels ?? amplitudes.map((_, c) => c))
    .map((c) => amplitudes[c])
    .filter((value) => value !== null && value !== undefined);
  if (chosen.length === 0) return null;
  chosen.sort((a, b) => a - b);
  return chosen[Math.floor(chosen.length / 2)];
}

/** The smallest automatic step that holds `amplitude` with some headroom. */
export function stepFor(amplitude) {
  const wanted = amplitude * HEADROOM;
  return AUTO_STEPS_UV.find((step) => step >= wanted) ?? AUTO_STEPS_UV[AUTO_STEPS_UV.length - 1];
}

/** The automatic scale: grows at once when the signal grows, shrinks only once it stays small. */
export class AutoScale {
  constructor(initial = 50) {
    this.step = initial;
    this.calmChecks = 0;
  }

  /** Feed the latest robust amplitude (or null); returns the step to draw with. */
  update(amplitude) {
    if (amplitude === null || !Number.isFinite(amplitude)) return this.step;
    const wanted = stepFor(amplitude);
    if (wanted > this.step) {
      this.step = wanted;
      this.calmChecks = 0;
    } else if (wanted < this.step) {
      this.calmChecks += 1;
      if (this.calmChecks >= CALM_CHECKS_BEFORE_SHRINKING) {
        this.step = wanted;
        this.calmChecks = 0;
      }
    } else {
      this.calmChecks = 0;
    }
    return this.step;
  }
}
