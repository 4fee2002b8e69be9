// Writing the page's state into data- attributes and text only when it changes: a write of
// the same value still makes the browser check its styles (and lay out again, for text), and
// the status is written five times a second, the polls once. And building an element with
// its attributes and children in one call.

/** Set `element.dataset[key]` to `value` as a string, or remove it for null; only if changed. */
export function setData(element, key, value) {
  const data = element.dataset;
  if (value === null || value === undefined) {
    if (key in data) delete data[key];
  } else if (data[key] !== String(value)) {
    data[key] = String(value);
  }
}

/** A new `tag` element with `attributes` (name to value) and `children` (nodes or text). */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Set `element.textContent` to `text`, only if it differs. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
