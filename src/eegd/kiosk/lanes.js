// Which channels get a lane: hidden channels are left out and the rest are shown a page at a
// time, as many per page as fit with every lane (and its label, a touch target) at least
// MIN_LANE_PX tall. Pure functions.

/** The smallest lane height: a label button is a touch target of this height. */
export const MIN_LANE_PX = 44;

/** How many lanes of at least MIN_LANE_PX fit in `heightPx` (at least 1). */
export function lanesPerPage(heightPx) {
  return Math.max(1, Math.floor(heightPx / MIN_LANE_PX));
}

/** The shown channels (indices, in order) cut into pages of at most `perPage`. */
export function pages(channelCount, hidden, perPage) {
  const shown = [];
  for (let c = 0; c < channelCount; c += 1) if (!hidden.has(c)) shown.push(c);
  const result = [];
  for (let i = 0; i < shown.length; i += perPage) result.push(shown.slice(i, i + perPage));
  return result.length ? result : [[]];
}

/** A page's name from its first and last channel names: "Fp1–O2", or one name alone. */
export function pageName(names, page) {
  if (page.length === 0) return "none";
  const first = names[page[0]];
  const last = names[page[page.length - 1]];
  return page.length === 1 ? first : `${first}–${last}`;
}
