// The alpha peak, named only when there is one. EEG power falls as 1/f, so the largest value
// in a band is usually its lower edge; a peak is instead a local maximum standing clearly
// above the 1/f background: a straight line fitted to log power over log frequency outside the
// alpha band. Pure functions.

/** Where the alpha peak is looked for, in Hz. */
export const ALPHA_SEARCH_HZ = [7, 14];
/** Frequencies the 1/f background is fitted over (the alpha band left out), in Hz. */
export const BACKGROUND_HZ = [
  [2, 7],
  [14, 35],
];
/**
 * How far above the background a peak must stand: 0.5 decades (5 dB). On the synthetic
 * source's 2 s spectra averaged over about 2.5 s (PEAK_SMOOTHING) a channel without alpha
 * stays below 0.42, and the channel mean with alpha above 0.64, 19 times in 20.
 */
export const MIN_PROMINENCE_DECADES = 0.5;
/** Weight of the newest spectrum in the running average the peak is looked for in. */
export const PEAK_SMOOTHING = 0.1;
/**
 * The slow average keeps a peak's power for seconds after the rhythm stops (a linear mean of
 * a peak 100 times the background takes ~9 s to fall below 5 dB). A peak is therefore named
 * only while a fast average (this weight: half-life of one spectrum, 0.25 s) still shows one
 * at least STAY_PROMINENCE_DECADES high: it goes within about 1.5 s of the window leaving it.
 */
export const FAST_PEAK_SMOOTHING = 0.5;
export const STAY_PROMINENCE_DECADES = 0.3;

/** Least-squares line through (x, y): `{slope, offset}`, or null with fewer than 2 points. */
export function fitLine(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i += 1) {
    sxx += (xs[i] - meanX) ** 2;
    sxy += (xs[i] - meanX) * (ys[i] - meanY);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slope, offset: meanY - slope * meanX };
}

/**
 * Power averaged over ±SMOOTH_HZ around each bin with triangular weights (1 at the bin, ½ at
 * the edges): window sidelobes and estimation noise average out, and a peak keeps its centre.
 */
export const SMOOTH_HZ = 0.5;
/** A peak is the largest value within ±NEIGHBOURHOOD_HZ, not only above its two neighbours. */
export const NEIGHBOURHOOD_HZ = 1.5;

function smoothed(freqs, power) {
  const out = new Float64Array(freqs.length);
  for (let k = 0; k < freqs.length; k += 1) {
    let sum = 0;
    let weights = 0;
    for (let j = k; j >= 0 && freqs[k] - freqs[j] <= SMOOTH_HZ; j -= 1) {
      const weight = 1 - (freqs[k] - freqs[j]) / (2 * SMOOTH_HZ);
      sum += weight * Math.max(0, power[j]);
      weights += weight;
    }
    for (let j = k + 1; j < freqs.length && freqs[j] - freqs[k] <= SMOOTH_HZ; j += 1) {
      const weight = 1 - (freqs[j] - freqs[k]) / (2 * SMOOTH_HZ);
      sum += weight * Math.max(0, power[j]);
      weights += weight;
    }
    out[k] = sum / weights;
  }
  return out;
}

/**
 * The alpha peak of a power spectrum (`freqs` in Hz, `power` per bin, any positive unit):
 * `{hz, prominence}` (prominence in decades above the fitted 1/f line), or null when no
 * local maximum in ALPHA_SEARCH_HZ stands `minProminence` decades above it.
 */
export function alphaPeak(freqs, power, minProminence = MIN_PROMINENCE_DECADES) {
  const smooth = smoothed(freqs, power);
  const xs = [];
  const ys = [];
  for (let k = 0; k < freqs.length; k += 1) {
    const f = freqs[k];
    if (!(smooth[k] > 0) || !BACKGROUND_HZ.some(([lo, hi]) => f >= lo && f <= hi)) continue;
    xs.push(Math.log10(f));
    ys.push(Math.log10(smooth[k]));
  }
  const line = fitLine(xs, ys);
  if (!line) return null;
  const residual = (k) =>
    smooth[k] > 0
      ? Math.log10(smooth[k]) - (line.offset + line.slope * Math.log10(freqs[k]))
      : -Infinity;
  let best = null;
  for (let k = 1; k + 1 < freqs.length; k += 1) {
    if (freqs[k] < ALPHA_SEARCH_HZ[0] || freqs[k] > ALPHA_SEARCH_HZ[1]) continue;
    const r = residual(k);
    let highest = true;
    for (let j = 0; j < freqs.length && highest; j += 1) {
      if (j !== k && Math.abs(freqs[j] - freqs[k]) <= NEIGHBOURHOOD_HZ && residual(j) > r) {
        highest = false;
      }
    }
    if (highest && (best === null || r > best.r)) best = { k, r };
  }
  if (best === null || best.r < minProminence) return null;
  return { hz: refine(freqs, residual, best.k), prominence: best.r };
}

/** The vertex of the parabola through the peak bin and its neighbours. */
function refine(freqs, residual, k) {
  const [a, b, c] = [residual(k - 1), residual(k), residual(k + 1)];
  const denominator = a - 2 * b + c;
  if (!Number.isFinite(denominator) || denominator === 0) return freqs[k];
  const offset = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denominator));
  return freqs[k] + offset * (freqs[k + 1] - freqs[k]);
}
