// The kiosk's keys: space or p pauses, + and - step the scale, a toggles the automatic scale,
// f goes full screen; any other key is offered to `other` (the marker buttons' 1–9). Keys
// typed into a field or with a modifier are left alone, and space on a button presses it.

/** Bind the keys; `actions` has pause, scaleUp, scaleDown, autoScale and fullscreen. */
export function bindKeys(actions, other) {
  const keys = {
    " ": actions.pause,
    p: actions.pause,
    "+": actions.scaleUp,
    "=": actions.scaleUp,
    "-": actions.scaleDown,
    a: actions.autoScale,
    f: actions.fullscreen,
  };
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLButtonElement && event.key === " ") return;
    const typing = event.target instanceof HTMLInputElement;
    if (event.ctrlKey || event.metaKey || event.altKey || typing) return;
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    } else if (other(event.key)) {
      event.preventDefault();
    }
  });
}
