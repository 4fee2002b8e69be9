// How much EEG the trace can show, and so whether the kiosk asks eegd for a min/max envelope
// (`max_rate` in the subscribe, docs/protocol.md) instead of every sample. Pure functions.
//
// The rule: the trace shows WINDOW_S seconds across its width in device pixels, so it needs
// PAIRS_PER_COLUMN (min, max) pairs per pixel column: 2 × columns per second, rounded up to a
// tidy number. An envelope carries two values per pair, so it is asked for only when the stream
// has more than two samples per wanted pair; below that (250 Hz on any screen) full-rate frames
// are no larger and draw the same picture. The rate follows the canvas only when the need
// changes by CHANGE_FACTOR or more, so resizing does not resubscribe at every step.

/** Envelope pairs per device pixel column: enough for a column to show its full min..max. */
export const PAIRS_PER_COLUMN = 2;
/** The asked-for rate changes only when the need moves at least this factor away from it. */
export const CHANGE_FACTOR = 1.5;

const TIDY_STEPS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];

/** The smallest tidy number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ᵏ) that is ≥ `rate`. */
export function tidyRate(rate) {
  const decade = 10 ** Math.floor(Math.log10(rate));
  const step = TIDY_STEPS.find((candidate) => candidate * decade >= rate * (1 - 1e-9));
  return Number((step * decade).toPrecision(6));
}

/** The `max_rate` for a trace of `columnsPerSecond` device pixel columns; null: full rate. */
export function wantedMaxRate(sampleRate, columnsPerSecond) {
  if (!(columnsPerSecond > 0)) return null;
  const pairs = Math.max(1, tidyRate(PAIRS_PER_COLUMN * columnsPerSecond));
  return sampleRate > 2 * pairs ? pairs : null;
}

/** What to ask for next: `wanted`, unless the current envelope rate is still close enough. */
export function nextMaxRate(current, wanted) {
  if (current === null || wanted === null) return wanted;
  const ratio = Math.max(wanted / current, current / wanted);
  return ratio >= CHANGE_FACTOR ? wanted : current;
}
