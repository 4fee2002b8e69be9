// Electrode impedance, as OpenBCI's GUI shows it: the Ω button at the end of the trace
// footer opens a panel over the traces with each electrode's impedance in kΩ on a tile
// coloured by its grade (green, yellow, red: the limits are the reply's grades_kohm; an
// electrode whose input is railed is red, "off"). Its Check button (an operator's) POSTs
// /api/impedance, which ends the session for a few seconds. The last result comes from
// /api/status (source.impedance.last) when the panel opens, and from impedance_finished
// events (any client's check). A refusal says why in the panel: the daemon's own words for a
// recording in progress or a source that cannot measure impedance, and for 401/403 that an
// operator must sign in (`onRefused` then opens the sign-in form).
// State for tests: data-impedance on #impedance-panel (idle, running, done, refused, error),
// data-code (a refusal's code); on each electrode's li data-name, data-kohm, data-grade.

import { element } from "./dom.js";

const ENDPOINT = "/api/impedance";
const ACTION = "Impedance check";

/** The grade of `kohm` (null: railed) by the reply's limits, as the daemon grades it. */
export function grade(kohm, limits) {
  if (kohm === null || kohm === undefined || kohm > limits.yellow) return "red";
  return kohm <= limits.green ? "green" : "yellow";
}

/** kΩ for a tile: one decimal below 100 kΩ, whole kΩ above; "off" when railed. */
export function formatKohm(kohm) {
  if (kohm === null || kohm === undefined) return "off";
  return `${kohm < 100 ? kohm.toFixed(1) : Math.round(kohm)} kΩ`;
}

function clock(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (value) => String(value).padStart(2, "0");
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

export class ImpedancePanel {
  /**
   * The Ω button joins `foot` (before the sign-in), the panel covers `over`;
   * `onRefused(action, message, httpStatus)` hears a refusal of the page's role.
   */
  constructor(foot, over, onRefused) {
    this.onRefused = onRefused;
    this.button = element(
      "button",
      {
        type: "button",
        id: "impedance-open",
        class: "impedance-open",
        "aria-expanded": "false",
        "aria-label": "Electrode impedance",
        title: "Electrode impedance (kΩ)",
      },
      "Ω",
    );
    this.check = element("button", { type: "button", id: "impedance-check" }, "Check");
    const close = element(
      "button",
      { type: "button", id: "impedance-close", "aria-label": "Close" },
      "×",
    );
    this.info = element("span", { id: "impedance-info", class: "impedance-info" });
    this.message = element("p", { id: "impedance-message", class: "impedance-message", role: "alert" });
    this.list = element("ul", { id: "impedance-electrodes", class: "impedance-electrodes" });
    this.legend = element("p", { id: "impedance-legend", class: "impedance-legend" });
    this.panel = element(
      "section",
      {
        id: "impedance-panel",
        class: "impedance-panel",
        role: "dialog",
        "aria-label": "Electrode impedance",
        hidden: "",
      },
      element("header", {}, element("h2", {}, "Impedance"), this.info, this.check, close),
      this.message,
      this.list,
      this.legend,
    );
    this.panel.dataset.impedance = "idle";
    this.say("");
    const signIn = foot.querySelector(".signin");
    foot.insertBefore(this.button, signIn);
    over.append(this.panel);
    this.button.addEventListener("click", () => this.setOpen(this.panel.hidden));
    close.addEventListener("click", () => this.setOpen(false));
    this.check.addEventListener("click", () => this.run());
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open && this.panel.dataset.impedance !== "running") this.refresh();
  }

  /** The last result and whether the source can measure, from /api/status. */
  async refresh() {
    try {
      const reply = await fetch("/api/status");
      if (!reply.ok) return;
      const source = (await reply.json()).source ?? {};
      const impedance = source.impedance ?? {};
      if (impedance.last && this.panel.dataset.impedance !== "running") this.show(impedance.last);
      else if (!impedance.last && impedance.supported === false) {
        this.say(`The ${source.kind} source cannot measure impedance.`);
      } else if (!impedance.last) this.say("No check yet: Check measures every electrode.");
    } catch {
      // the status line already says why eegd cannot be reached
    }
  }

  systemEvent(message) {
    if (message.kind !== "impedance_finished" || !message.detail?.electrodes) return;
    if (this.panel.dataset.impedance !== "running") this.show(message.detail);
  }

  async run() {
    this.panel.dataset.impedance = "running";
    delete this.panel.dataset.code;
    this.check.disabled = true;
    this.say("Measuring every electrode (the session restarts)…");
    try {
      const reply = await fetch(ENDPOINT, { method: "POST" });
      const answer = await reply.json().catch(() => ({}));
      if (reply.ok) {
        this.show(answer);
        return;
      }
      this.refused(reply.status, answer);
    } catch (error) {
      this.panel.dataset.impedance = "error";
      this.say(`${ACTION} failed: ${error.message}`);
    } finally {
      this.check.disabled = false;
    }
  }

  refused(httpStatus, answer) {
    const text = answer.message ?? `HTTP ${httpStatus}`;
    this.panel.dataset.impedance = "refused";
    this.panel.dataset.code = answer.code ?? String(httpStatus);
    if (httpStatus === 401 || httpStatus === 403) {
      this.say(`${ACTION} needs an operator: sign in (${text}).`);
      this.onRefused(ACTION, text, httpStatus);
    } else {
      this.say(`${ACTION} refused: ${text}`);
    }
  }

  say(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }

  show(result) {
    const limits = result.grades_kohm ?? { green: 10, yellow: 50 };
    const electrodes = result.electrodes ?? [];
    this.panel.dataset.impedance = "done";
    delete this.panel.dataset.code;
    this.say("");
    const hz = typeof result.frequency_hz === "number" ? `${result.frequency_hz} Hz` : "";
    this.info.textContent = [hz, `${result.current_na} nA`, clock(result.measured_at)]
      .filter(Boolean)
      .join(" · ");
    this.list.replaceChildren(
      ...electrodes.map((electrode) => {
        const kohm = electrode.kohm ?? null;
        const item = element(
          "li",
          {
            "data-name": electrode.name,
            "data-kohm": kohm === null ? "" : String(kohm),
            "data-grade": grade(kohm, limits),
            title: kohm === null ? "railed: no contact" : `${kohm} kΩ`,
          },
          element("strong", {}, electrode.name),
          element("span", {}, formatKohm(kohm)),
        );
        return item;
      }),
    );
    this.legend.textContent =
      `green ≤ ${limits.green} kΩ · yellow ≤ ${limits.yellow} kΩ · red above, or off`;
  }
}
