// The kiosk's sign-in and its audit line. GET /api/session says the page's role and whether
// tokens exist at all; with none the sign-in stays hidden (the daemon is open to its own
// machine and checks only where requests come from). Signing in POSTs the token once; the
// daemon answers with an HttpOnly session cookie that this script never sees. The audit
// line shows the last change anyone asked for, from the daemon's "audit" system events.
// State for tests: data-role and data-sign-in on #signin, data-accepted on #audit-line.

const ENDPOINT = "/api/session";

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function clock(timestampUs) {
  const at = new Date(timestampUs / 1000);
  const pad = (value) => String(value).padStart(2, "0");
  return `${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

const SVG = "http://www.w3.org/2000/svg";

// A padlock, open once the page has the operator role.
function lockIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  svg.setAttribute("aria-hidden", "true");
  svg.innerHTML =
    '<rect x="5" y="11" width="14" height="10" rx="2" fill="none" stroke="currentColor" stroke-width="2"/>' +
    '<path class="shackle" d="M8 11V7a4 4 0 0 1 8 0v4" fill="none" stroke="currentColor" stroke-width="2"/>';
  return svg;
}

const CORNER = {
  display: "flex",
  flex: "0 1 auto",
  alignItems: "center",
  gap: "0.375rem",
  minWidth: "0",
  marginLeft: "auto",
};
const AUDIT = {
  overflow: "hidden",
  textOverflow: "ellipsis",
  whiteSpace: "nowrap",
  fontSize: "0.75rem",
  padding: "0.125rem 0.375rem",
  borderRadius: "0.375rem",
  background: "rgba(11, 15, 20, 0.85)",
  opacity: "0.85",
};
const FORM = {
  position: "absolute",
  right: "0",
  bottom: "3.25rem",
  width: "max-content",
  maxWidth: "min(18rem, 90vw)",
  padding: "0.375rem",
  borderRadius: "0.5rem",
  background: "rgba(11, 15, 20, 0.95)",
  pointerEvents: "auto",
};

export class SignInPanel {
  // The end of the trace footer, not the toolbar (signing in is rare, and the toolbar is
  // full) and never over a panel: a fixed corner covered the band bars' labels.
  constructor(parent = document.querySelector(".trace-foot") ?? document.body) {
    this.button = element(
      "button",
      { type: "button", id: "signin-button", "aria-label": "Sign in", title: "Sign in" },
      lockIcon(),
    );
    Object.assign(this.button.style, { minWidth: "44px", minHeight: "44px" });
    this.token = element("input", {
      type: "password",
      id: "signin-token",
      autocomplete: "current-password",
      placeholder: "token",
      "aria-label": "Access token",
      size: "14",
    });
    this.message = element("span", { id: "signin-message", role: "alert" });
    this.form = element(
      "form",
      { id: "signin-form", hidden: "" },
      this.token,
      element("button", { type: "submit", id: "signin-submit" }, "OK"),
      this.message,
    );
    Object.assign(this.form.style, FORM);
    this.root = element(
      "div",
      { class: "signin", id: "signin", role: "group", "aria-label": "Sign-in", hidden: "" },
      this.form,
      this.button,
    );
    this.root.style.position = "relative";
    this.audit = element("div", { id: "audit-line", class: "audit-line", "aria-live": "polite" });
    Object.assign(this.audit.style, AUDIT);
    this.audit.hidden = true;
    const corner = element("div", { class: "signin-corner" }, this.audit, this.root);
    Object.assign(corner.style, CORNER);
    parent.append(corner);
    this.role = "public";
    this.via = "anonymous";
    this.button.addEventListener("click", () => this.toggle());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn(this.token.value);
    });
  }

  async refresh() {
    try {
      const reply = await fetch(ENDPOINT, { cache: "no-store" });
      const state = await reply.json();
      this.show(state);
    } catch (error) {
      this.message.textContent = error.message;
    }
  }

  show(state) {
    this.role = state.role;
    this.via = state.via;
    this.root.hidden = !state.sign_in;
    this.root.dataset.role = state.role;
    this.root.dataset.signIn = String(Boolean(state.sign_in));
    const signedIn = state.via === "session";
    const label = signedIn ? `Sign out (${state.role})` : "Sign in";
    this.button.setAttribute("aria-label", label);
    this.button.title = label;
    this.button.setAttribute("aria-pressed", String(signedIn));
    this.button.querySelector(".shackle").setAttribute(
      "d",
      state.role === "operator" ? "M8 11V7a4 4 0 0 1 7.5-2" : "M8 11V7a4 4 0 0 1 8 0v4",
    );
  }

  async toggle() {
    if (this.via === "session") {
      await fetch(ENDPOINT, { method: "DELETE" });
      this.message.textContent = "";
      await this.refresh();
      return;
    }
    this.form.hidden = !this.form.hidden;
    if (!this.form.hidden) this.token.focus();
  }

  async signIn(token) {
    this.message.textContent = "";
    try {
      const reply = await fetch(ENDPOINT, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: token.trim() }),
      });
      const answer = await reply.json();
      if (!reply.ok) throw new Error(answer.message ?? `sign-in: ${reply.status}`);
      this.token.value = "";
      this.form.hidden = true;
    } catch (error) {
      this.message.textContent = error.message;
    }
    await this.refresh();
  }

  systemEvent(message) {
    if (message.kind !== "audit") return;
    const detail = message.detail;
    const verdict = detail.accepted ? "" : " (refused)";
    this.audit.textContent = `${detail.action} by ${detail.role} at ${clock(message.timestamp)}${verdict}`;
    this.audit.title = detail.outcome ?? "";
    this.audit.dataset.accepted = String(Boolean(detail.accepted));
    this.audit.hidden = false;
  }
}
