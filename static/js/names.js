// Who is called what. The server sends a `names` map ({identity: display name}) beside every
// answer that mentions people; the page keeps them here and shows a name wherever it has one.
// A phone (an SMS participant) has no entry and shows as its number; someone the server has
// no name for yet shows as their identity.

const known = new Map();
const listeners = new Set();

/** Keep the names of an answer; listeners hear once if any changed. */
export function learnNames(names) {
  let changed = false;
  for (const [identity, name] of Object.entries(names ?? {})) {
    if (typeof name !== 'string' || known.get(identity) === name) continue;
    known.set(identity, name);
    changed = true;
  }
  if (changed) for (const listener of listeners) listener();
}

/** What the page calls `identity`: its display name, else the identity (or phone number) itself. */
export function nameOf(identity) {
  return known.get(identity) ?? identity;
}

/** True once the server has said what `identity` is called. */
export function isNamed(identity) {
  return known.has(identity);
}

export function onNamesChanged(listener) {
  listeners.add(listener);
}
