// The kiosk's palettes: one colour per channel, shared by its trace, its label and its spectrum
// line, one per frequency band, and the canvas colours of each theme (dark for a dim room,
// light and high-contrast for daylight); CSS variables carry the rest of the theme.

const CHANNEL_COLORS = {
  dark: ["#6ea8ff", "#5fd4f4", "#8bd36b", "#e8c25c", "#ff7b93", "#b89bff", "#ff9f5a", "#4fd6b5"],
  light: ["#0645ad", "#006b80", "#2a6a00", "#8a5a00", "#b0003a", "#5b2bb5", "#b34700", "#00715a"],
};

/** The canvas colours of each theme. */
export const THEMES = {
  dark: {
    name: "dark",
    midline: "rgba(255,255,255,0.05)",
    laneEdge: "rgba(255,255,255,0.09)",
    gridLine: "rgba(255,255,255,0.07)",
    axisText: "#8b98a5",
    text: "#e6edf3",
    axisLine: "rgba(255,255,255,0.18)",
  },
  light: {
    name: "light",
    midline: "rgba(0,0,0,0.10)",
    laneEdge: "rgba(0,0,0,0.25)",
    gridLine: "rgba(0,0,0,0.14)",
    axisText: "#1a1a1a",
    text: "#000000",
    axisLine: "rgba(0,0,0,0.5)",
  },
};

/** The colour of channel `c` in `theme`; beyond the palette, evenly spread hues. */
export function channelColor(c, theme = "dark") {
  const palette = CHANNEL_COLORS[theme] ?? CHANNEL_COLORS.dark;
  if (c < palette.length) return palette[c];
  const lightness = theme === "light" ? 32 : 68;
  return `hsl(${(c * 137.5) % 360} 75% ${lightness}%)`;
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

/** A value from 0 to 1 as a colour of the heat scale: dark blue through green to yellow. */
export function heat(value) {
  const t = Math.max(0, Math.min(1, value));
  return `hsl(${240 - 190 * t} 85% ${18 + 50 * t}%)`;
}

/** `heat(value)` as [r, g, b], 0..255, for image data. */
export function heatRgb(value) {
  const t = Math.max(0, Math.min(1, value));
  const hue = 240 - 190 * t;
  const s = 0.85;
  const l = 0.18 + 0.5 * t;
  const a = s * Math.min(l, 1 - l);
  const channel = (n) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [channel(0), channel(8), channel(4)];
}
