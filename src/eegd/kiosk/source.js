// The source settings panel: a "Source" button opens it; it shows the running rate and
// channel count and, where the source lets one choose them (GET /api/source → choices), lets
// one pick another rate and type a channel count, applied with PUT /api/source (a partial
// body: only what changed). A refusal shows the JSON error's message; an accepted switch shows
// the applied settings. It follows every change of the source (the hello of a new session, a
// config_changed event), whoever made it. State is mirrored into data- attributes of the root:
// data-source-open, -kind, -rate, -channels (the running session's), -editable ("true" when
// the rate or the channels can be chosen), -pending, -error, -applied.

const ENDPOINT = "/api/source";

export function formatRate(rate) {
  return rate >= 1000 ? `${rate / 1000} kHz` : `${rate} Hz`;
}

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

async function call(method, body) {
  const reply = await fetch(ENDPOINT, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new Error(answer.message ?? `${method} ${ENDPOINT}: ${reply.status}`);
  return answer;
}

export class SourcePanel {
  constructor(root) {
    this.root = root;
    this.toggle = root.querySelector("#source-open");
    this.state = null; // the last GET/PUT /api/source reply
    this.running = { rate: null, channels: null }; // from the hello, else the reply's session
    this.draft = { rate: null, channels: null };
    this.dirty = false;
    this.build();
    this.toggle.addEventListener("click", () => this.setOpen(this.panel.hidden));
    this.setOpen(false);
  }

  build() {
    this.kind = element("span", { className: "source-kind" });
    this.close = element("button", { type: "button", id: "source-close", textContent: "Close" });
    this.rates = element("div", { className: "source-rates", id: "source-rates" });
    this.rateFact = element("output", { className: "source-fact", id: "source-rate-fact" });
    this.channels = element("input", {
      type: "number",
      id: "source-channels",
      inputMode: "numeric",
      step: 1,
    });
    this.less = element("button", { type: "button", id: "source-fewer", textContent: "−" });
    this.more = element("button", { type: "button", id: "source-more", textContent: "+" });
    this.less.setAttribute("aria-label", "Fewer channels");
    this.more.setAttribute("aria-label", "More channels");
    this.channelStepper = element("div", { className: "source-stepper" }, [
      this.less,
      this.channels,
      this.more,
    ]);
    this.channelFact = element("output", { className: "source-fact", id: "source-channels-fact" });
    this.apply = element("button", {
      type: "button",
      id: "source-apply",
      className: "source-apply",
      textContent: "Apply",
    });
    this.message = element("p", { className: "source-message", id: "source-message" });
    this.message.setAttribute("role", "status");
    this.panel = element(
      "section",
      { className: "source-panel", id: "source-panel", hidden: true },
      [
        element("header", { className: "source-head" }, [
          element("h2", { textContent: "Source" }),
          this.kind,
          this.close,
        ]),
        element("div", { className: "source-row" }, [
          element("span", { className: "source-label", textContent: "Sample rate" }),
          this.rates,
          this.rateFact,
        ]),
        element("div", { className: "source-row" }, [
          element("label", { className: "source-label", htmlFor: "source-channels" }, [
            "Channels",
          ]),
          this.channelStepper,
          this.channelFact,
        ]),
        element("footer", { className: "source-foot" }, [this.message, this.apply]),
      ],
    );
    this.panel.setAttribute("role", "dialog");
    this.panel.setAttribute("aria-label", "Source settings");
    this.toggle.setAttribute("aria-controls", "source-panel");
    this.root.append(this.panel);

    this.close.addEventListener("click", () => this.setOpen(false));
    this.apply.addEventListener("click", () => this.submit());
    this.less.addEventListener("click", () => this.stepChannels(-1));
    this.more.addEventListener("click", () => this.stepChannels(1));
    this.channels.addEventListener("input", () => {
      this.draft.channels = this.channels.value === "" ? null : Number(this.channels.value);
      this.dirty = true;
      this.showDraft();
    });
    // Typing a number is not a shortcut of the page (+, -, space).
    this.channels.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") this.submit();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) this.setOpen(false);
    });
  }

  start() {
    this.refresh();
  }

  /** A hello from the WebSocket: the session's own rate and channels, perhaps a new source. */
  hello(hello) {
    this.running = { rate: hello.sample_rate, channels: hello.channels.length };
    this.showRunning();
    this.refresh();
  }

  /** A system event: config_changed with a `source` table means someone switched it. */
  systemEvent(message) {
    if (message.kind === "config_changed" && message.detail?.source) this.refresh();
  }

  async refresh() {
    try {
      this.show(await call("GET"));
    } catch {
      // the status line already says why eegd cannot be reached
    }
  }

  setOpen(open) {
    if (open) {
      this.dirty = false;
      this.resetDraft();
      this.say("", null);
      this.refresh();
    }
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    this.root.dataset.sourceOpen = String(open);
  }

  show(state) {
    this.state = state;
    const session = state.session;
    if (session) this.running = { rate: session.sample_rate, channels: session.channels.length };
    const choices = state.choices ?? {};
    this.rateChoices = choices.sample_rate ?? null;
    this.channelRange = choices.channels ?? null;
    this.root.dataset.sourceKind = state.settings?.kind ?? "";
    this.root.dataset.sourceEditable = String(
      this.rateChoices !== null || this.channelRange !== null,
    );
    this.kind.textContent = state.settings?.kind ?? "";
    this.buildRates();
    const range = this.channelRange;
    this.channelStepper.hidden = range === null;
    this.channelFact.hidden = range !== null;
    if (range) {
      this.channels.min = String(range.min);
      this.channels.max = String(range.max);
      this.channels.title = `${range.min}..${range.max}`;
    }
    if (!this.dirty) this.resetDraft();
    this.showRunning();
  }

  buildRates() {
    const rates = this.rateChoices;
    this.rates.hidden = rates === null;
    this.rateFact.hidden = rates !== null;
    const key = JSON.stringify(rates);
    if (rates === null || this.rates.dataset.choices === key) return;
    this.rates.dataset.choices = key;
    this.rates.replaceChildren(
      ...rates.map((rate) => {
        const button = element("button", { type: "button", textContent: formatRate(rate) });
        button.dataset.rate = String(rate);
        button.addEventListener("click", () => {
          this.draft.rate = rate;
          this.dirty = true;
          this.showDraft();
        });
        return button;
      }),
    );
  }

  resetDraft() {
    this.draft = { ...this.running };
    this.showDraft();
  }

  stepChannels(direction) {
    const { min, max } = this.channelRange ?? { min: 1, max: 1 };
    const current = Number.isFinite(this.draft.channels) ? this.draft.channels : min;
    this.draft.channels = Math.min(max, Math.max(min, Math.round(current) + direction));
    this.dirty = true;
    this.showDraft();
  }

  showRunning() {
    const { rate, channels } = this.running;
    if (rate !== null) this.root.dataset.sourceRate = String(rate);
    if (channels !== null) this.root.dataset.sourceChannels = String(channels);
    this.rateFact.textContent = rate === null ? "—" : formatRate(rate);
    this.channelFact.textContent = channels === null ? "—" : String(channels);
    this.showDraft();
  }

  showDraft() {
    for (const button of this.rates.children) {
      const rate = Number(button.dataset.rate);
      button.setAttribute("aria-pressed", String(rate === this.draft.rate));
      button.toggleAttribute("data-running", rate === this.running.rate);
    }
    if (document.activeElement !== this.channels) {
      this.channels.value = this.draft.channels === null ? "" : String(this.draft.channels);
    }
    const range = this.channelRange;
    this.less.disabled = !range || this.draft.channels <= range.min;
    this.more.disabled = !range || this.draft.channels >= range.max;
    this.apply.disabled =
      this.root.dataset.sourcePending === "true" || Object.keys(this.changes()).length === 0;
  }

  /** The partial body: only the keys whose draft differs from what runs. */
  changes() {
    const body = {};
    if (this.rateChoices && this.draft.rate !== this.running.rate) {
      body.sample_rate = this.draft.rate;
    }
    if (this.channelRange && this.draft.channels !== this.running.channels) {
      body.channels = this.draft.channels;
    }
    return body;
  }

  async submit() {
    const body = this.changes();
    if (Object.keys(body).length === 0) return;
    this.root.dataset.sourcePending = "true";
    this.say("Switching…", null);
    this.showDraft();
    try {
      const state = await call("PUT", body);
      this.dirty = false;
      this.show(state);
      const session = state.session;
      const applied = session
        ? `${formatRate(session.sample_rate)} · ${session.channels.length} channels`
        : "settings saved; the source has not opened yet";
      this.say(`Applied: ${applied}`, "applied");
      if (session) this.root.dataset.sourceApplied = String(session.sample_rate);
    } catch (error) {
      this.say(error.message, "error");
    } finally {
      delete this.root.dataset.sourcePending;
      this.showDraft();
    }
  }

  say(text, kind) {
    this.message.textContent = text;
    this.message.dataset.kind = kind ?? "";
    if (kind === "error") this.root.dataset.sourceError = text;
    else delete this.root.dataset.sourceError;
    if (kind !== "applied") delete this.root.dataset.sourceApplied;
  }
}
