// The kiosk's sign-in and its audit line. GET /api/session says the page's role and whether
// tokens exist at all; with none the sign-in stays hidden (the daemon is open to its own
// machine and checks only where requests come from). Signing in POSTs the token once; the
// daemon answers with an HttpOnly session cookie that this script never sees. The audit
// line shows the last change anyone asked for, from the daemon's "audit" system events.
// A refusal of this page's own request that is not about its role shows in the footer for a
// while (#foot-notice), in place of the audit line (the ledger's, on the kiosk screen).
// The role is read again whenever the WebSocket (re)opens and after any refusal, so a
// restarted daemon, which forgot every sign-in, never leaves the page saying "Sign out".
// State for tests: data-role, data-via and data-sign-in on #signin, data-accepted on
// #audit-line, data-signing-in on the footer while the form is open.

import { element } from "./dom.js";

const ENDPOINT = "/api/session";

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

/** A refusal of this page's own request stays in the footer this long. */
const NOTICE_MS = 15_000;

export class SignInPanel {
  // The end of the trace footer, not the toolbar (signing in is rare, and the toolbar is
  // full). The form takes the footer's place while open: it covers no trace and no panel.
  // The audit line is the last of the footer's lines (`lines`).
  constructor(foot = document.querySelector(".trace-foot"), lines = document.querySelector(".foot-lines")) {
    this.foot = foot;
    this.button = element(
      "button",
      { type: "button", id: "signin-button", "aria-label": "Sign in", title: "Sign in" },
      lockIcon(),
    );
    this.token = element("input", {
      type: "password",
      id: "signin-token",
      autocomplete: "current-password",
      placeholder: "operator token",
      "aria-label": "Access token",
    });
    this.message = element("span", { id: "signin-message", class: "signin-message", role: "alert" });
    const cancel = element("button", { type: "button", id: "signin-cancel" }, "Cancel");
    this.form = element(
      "form",
      { id: "signin-form", class: "signin-form", hidden: "" },
      this.token,
      element("button", { type: "submit", id: "signin-submit" }, "OK"),
      cancel,
      this.message,
    );
    this.root = element(
      "div",
      { class: "signin", id: "signin", role: "group", "aria-label": "Sign-in", hidden: "" },
      this.button,
    );
    this.audit = element("span", { id: "audit-line", class: "audit-line", "aria-live": "polite" });
    this.audit.hidden = true;
    this.notice = element("span", { id: "foot-notice", class: "foot-notice", role: "alert" });
    this.notice.hidden = true;
    this.noticeTimer = null;
    lines.append(this.audit, this.notice);
    foot.append(this.form, this.root);
    this.role = "public";
    this.via = "anonymous";
    this.signInExists = false;
    this.button.addEventListener("click", () => this.toggle());
    cancel.addEventListener("click", () => this.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn(this.token.value);
    });
  }

  /** Open the form, saying why (`reason`: a refusal of something this page asked for). */
  open(reason = "") {
    this.message.textContent = reason;
    this.form.hidden = false;
    this.foot.dataset.signingIn = "true";
    this.token.focus();
  }

  close() {
    this.form.hidden = true;
    this.message.textContent = "";
    delete this.foot.dataset.signingIn;
  }

  /**
   * Something this page asked for was refused for its role (401 or 403): ask for a token
   * when tokens exist, and re-read the role (a restarted daemon forgot the sign-in).
   * Returns whether the sign-in form now says so.
   */
  async refused(reason) {
    await this.refresh();
    if (!this.signInExists || this.role === "operator") return false;
    this.open(reason);
    return true;
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
    this.signInExists = Boolean(state.sign_in);
    this.root.hidden = !state.sign_in;
    this.root.dataset.role = state.role;
    this.root.dataset.via = state.via;
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
      this.close();
      await this.refresh();
      return;
    }
    if (this.form.hidden) this.open();
    else this.close();
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
      this.close();
    } catch (error) {
      this.message.textContent = error.message;
    }
    await this.refresh();
  }

  /** Say in the footer, for NOTICE_MS, that something this page asked for was refused. */
  note(text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.notice.hidden = true;
    }, NOTICE_MS);
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
