// The display panel: a "View" button opens it under the top bar. Rows of big buttons choose
// the time window, filtered or raw signal, a global or per-channel scale, hiding the selected
// channel, the voltage filter (PUT /api/filter, filters.js), the spectrum's range and power
// axis, the band unit and the theme. Each row mirrors its value in data-value, and the panel
// calls `onChange(key, value)`; `show(key, value)` reflects a value chosen elsewhere.

import { PRESETS } from "./filters.js";
import { WINDOWS_S } from "./traces.js";

const hz = (value) => (value ? `${value} Hz` : "Off");

/** The rows: key, label, and [value, text] choices. */
const ROWS = [
  ["window", "Time window", WINDOWS_S.map((s) => [s, `${s} s`])],
  ["signal", "Signal", [["filtered", "Filtered"], ["raw", "Raw"]]],
  ["scaleMode", "Scale", [["global", "Global"], ["channel", "Per channel"]]],
  ["notch_hz", "Notch", PRESETS.notch_hz.map((v) => [v, hz(v)])],
  ["highpass_hz", "High-pass", PRESETS.highpass_hz.map((v) => [v, hz(v)])],
  ["lowpass_hz", "Low-pass", PRESETS.lowpass_hz.map((v) => [v, hz(v)])],
  ["maxHz", "Spectrum up to", [[45, "45 Hz"], ["max", "max"]]],
  ["power", "Power axis", [["log", "Log"], ["linear", "Linear"]]],
  ["bandUnit", "Band bars", [["share", "%"], ["power", "µV²"]]],
  ["theme", "Theme", [["dark", "Dark"], ["light", "Light"]]],
];

/** The filter keys among the rows: their choices go to /api/filter. */
export const FILTER_KEYS = ["notch_hz", "highpass_hz", "lowpass_hz"];

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export class DisplayPanel {
  constructor(toggle, onChange) {
    this.toggle = toggle;
    this.onChange = onChange;
    this.rows = new Map();
    this.panel = element("section", { className: "display-panel", id: "display-panel" });
    this.panel.setAttribute("aria-label", "Display settings");
    const close = element("button", { type: "button", id: "display-close", textContent: "Close" });
    close.addEventListener("click", () => this.setOpen(false));
    const head = element("header", { className: "source-head" }, [
      element("h2", { textContent: "View" }),
      close,
    ]);
    this.channelName = element("span", { className: "display-channel-name" });
    this.hide = element("button", { type: "button", id: "hide-channel", textContent: "Hide" });
    this.showAll = element("button", { type: "button", id: "show-all", textContent: "Show all" });
    this.hide.addEventListener("click", () => this.onChange("hide", null));
    this.showAll.addEventListener("click", () => this.onChange("showAll", null));
    const channelRow = element("div", { className: "display-row" }, [
      element("span", { className: "source-label", textContent: "Channel" }),
      element("div", { className: "display-choices" }, [this.channelName, this.hide, this.showAll]),
    ]);
    this.message = element("p", { className: "source-message", id: "filter-message" });
    this.note = element("p", { className: "display-note", id: "display-how" });
    const rows = ROWS.map((row) => this.buildRow(...row));
    this.panel.append(head, this.note, ...rows, channelRow, this.message);
    document.body.append(this.panel);
    toggle.addEventListener("click", () => this.setOpen(this.panel.hidden));
    this.setOpen(false);
  }

  buildRow(key, label, choices) {
    const buttons = choices.map(([value, text]) => {
      const button = element("button", { type: "button", textContent: text });
      button.dataset.value = String(value);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => this.onChange(key, value));
      return button;
    });
    const group = element("div", { className: "display-choices", role: "group" }, buttons);
    group.setAttribute("aria-label", label);
    const row = element("div", { className: "display-row", id: `display-${key}` }, [
      element("span", { className: "source-label", textContent: label }),
      group,
    ]);
    this.rows.set(key, { row, buttons });
    return row;
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
  }

  /** Mark `value` as chosen in row `key` (a value no button has marks none). */
  show(key, value) {
    const entry = this.rows.get(key);
    if (!entry) return;
    entry.row.dataset.value = String(value);
    for (const button of entry.buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.value === String(value ?? 0)));
    }
  }

  /** The selected channel's name (or null) and how many channels are hidden. */
  showChannel(name, hiddenCount) {
    this.channelName.textContent = name ?? "tap a channel label";
    this.hide.disabled = name === null;
    this.showAll.disabled = hiddenCount === 0;
    this.showAll.textContent = hiddenCount ? `Show all (${hiddenCount} hidden)` : "Show all";
  }

  /** How the trace is drawn ("envelope, 16 kHz shown at 200 px/s"), said here too. */
  showNote(text) {
    this.note.textContent = text;
  }

  /** A filter refusal's message, or nothing. */
  showMessage(text) {
    this.message.textContent = text ?? "";
    this.message.dataset.kind = text ? "error" : "";
  }
}
