// Tiny DOM helpers. User data only ever reaches the page as text (textContent), never as HTML.

/**
 * Create an element. `props` sets properties (className, hidden, type…) and, under `attrs`,
 * attributes; children are nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  const { attrs, dataset, ...rest } = props;
  Object.assign(el, rest);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
  }
  Object.assign(el.dataset, dataset ?? {});
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/** Set an element's text only when it changed (avoids needless layout and screen-reader noise). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Make `container`'s children match `items`, in order, reusing the element made for each key.
 * `create(item)` builds a new element; `update(el, item)` refreshes it. Elements whose key is
 * gone are removed. Focus stays on a reused element because it is moved, not rebuilt.
 * Keys must be unique within `items`.
 */
export function reconcile(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const el of [...container.children]) {
    if (existing.has(el.dataset.key)) el.remove(); // a duplicate key: keep the first
    else existing.set(el.dataset.key, el);
  }

  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    let el = existing.get(key);
    if (el) {
      existing.delete(key);
    } else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const stale of existing.values()) stale.remove();
}

/**
 * A view's elements, found under its root: `{name: selector}` in, `{name: element}` out. A
 * selector that finds nothing throws at once, naming it, rather than failing on first use.
 */
export function elementsUnder(root, selectors) {
  const found = {};
  for (const [name, selector] of Object.entries(selectors)) {
    found[name] = root.querySelector(selector);
    if (!found[name]) throw new Error(`${selector} is missing under #${root.id}`);
  }
  return found;
}
