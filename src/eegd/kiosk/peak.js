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
/** How far above the background a peak must stand: 0.3 decades, twice the power (3 dB). */
export const MIN_PROMINENCE_DECADES = 0.3;

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
 * The alpha peak of a power spectrum (`freqs` in Hz, `power` per bin, any positive unit):
 * `{hz, prominence}` (prominence in decades above the fitted 1/f line), or null when no
 * local maximum in ALPHA_SEARCH_HZ stands MIN_PROMINENCE_DECADES above it.
 */
export function alphaPeak(freqs, power) {
  const xs = [];
  const ys = [];
  for (let k = 0; k < freqs.length; k += 1) {
    const f = freqs[k];
    if (!(power[k] > 0) || !BACKGROUND_HZ.some(([lo, hi]) => f >= lo && f <= hi)) continue;
    xs.push(Math.log10(f));
    ys.push(Math.log10(power[k]));
  }
  const line = fitLine(xs, ys);
  if (!line) return null;
  const residual = (k) =>
    power[k] > 0 ? Math.log10(power[k]) - (line.offset + line.slope * Math.log10(freqs[k])) : -Infinity;
  let best = null;
  for (let k = 1; k + 1 < freqs.length; k += 1) {
    if (freqs[k] < ALPHA_SEARCH_HZ[0] || freqs[k] > ALPHA_SEARCH_HZ[1]) continue;
    const r = residual(k);
    if (r < residual(k - 1) || r < residual(k + 1)) continue;
    if (best === null || r > best.r) best = { k, r };
  }
  if (best === null || best.r < MIN_PROMINENCE_DECADES) return null;
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
