// Where a 10-20 / 10-10 electrode sits on a head seen from above (nose up), from its name
// alone: the letters give the row front to back, the number the side (odd left, even right,
// z the midline) and how far out. Unknown names have no position. Pure.

const ROWS = { FP: 0.9, AF: 0.72, F: 0.52, FC: 0.27, FT: 0.27, C: 0, T: 0, CP: -0.27, TP: -0.27, P: -0.52, PO: -0.72, O: -0.9 };
const ALIASES = { T3: "T7", T4: "T8", T5: "P7", T6: "P8" };
const LABEL = /^(FP|AF|FC|FT|CP|TP|PO|F|C|T|P|O)(Z|10|[1-9])$/;

/** `[x, y]` in the unit circle (x right, y towards the nose) for a 10-20 name, else null. */
export function headPosition(name) {
  const upper = String(name).trim().toUpperCase();
  const match = LABEL.exec(ALIASES[upper] ?? upper);
  if (!match) return null;
  const [, row, place] = match;
  const y = ROWS[row];
  if (place === "Z") return [0, y];
  const number = Number(place);
  const side = number % 2 ? -1 : 1;
  const reach = row === "FP" || row === "O" ? 0.55 : Math.min(0.98, Math.ceil(number / 2) * 0.22);
  return [side * reach * Math.sqrt(1 - y * y), y];
}
