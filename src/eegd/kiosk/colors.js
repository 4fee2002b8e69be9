// The kiosk's palette: one colour per channel, shared by its trace, its label and its spectrum
// line, and one per frequency band; all chosen to read well on the dark background.

const CHANNEL_COLORS = [
  "#6ea8ff",
  "#5fd4f4",
  "#8bd36b",
  "#e8c25c",
  "#ff7b93",
  "#b89bff",
  "#ff9f5a",
  "#4fd6b5",
];

/** The colour of channel `c`; beyond the palette, evenly spread hues of the same lightness. */
export function channelColor(c) {
  if (c < CHANNEL_COLORS.length) return CHANNEL_COLORS[c];
  return `hsl(${(c * 137.5) % 360} 75% 68%)`;
}

const BAND_COLORS = {
  delta: "#6f8cff",
  theta: "#4fc8c0",
  alpha: "#f2c14e",
  beta: "#f08a5d",
  gamma: "#d17dff",
};

/** The colour of a frequency band by name, grey for a band the kiosk does not know. */
export function bandColor(name) {
  return BAND_COLORS[name] ?? "#9aa7b4";
}

/** Greek letters for the classic bands, for compact labels. */
export const BAND_SYMBOLS = { delta: "δ", theta: "θ", alpha: "α", beta: "β", gamma: "γ" };
