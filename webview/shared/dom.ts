import { printable } from '../../src/core/text/printable';

/**
 * Building DOM without HTML strings: every text goes in through textContent / text nodes, attributes
 * through setAttribute. Nothing here parses markup, so data can never become markup; and every text and
 * attribute is made printable, so no control, bidi override or invisible character in the data can
 * reorder or hide what a person reads (SQL boxes mark them individually, see sql.ts).
 */
const shown = (text: string) => printable(text, { multiline: true });

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, ...children);
  return el;
}

export function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'style') throw new Error('style attributes are blocked by the CSP; use classes');
    if (v === false || v === null || v === undefined) el.removeAttribute(k);
    else el.setAttribute(k, v === true ? '' : shown(String(v)));
  }
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(shown(String(c))) : c,
    );
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A codicon (decorative: hidden from assistive technology). */
export function icon(name: string, extraClass = ''): HTMLSpanElement {
  return h('span', {
    class: `codicon codicon-${name}${extraClass ? ' ' + extraClass : ''}`,
    'aria-hidden': 'true',
  });
}

/** Sets textContent only when it changes (timers call this often). */
export function setText(el: Element, text: string): void {
  const t = shown(text);
  if (el.textContent !== t) el.textContent = t;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

/** Whether a key event comes from typing into a text field (shortcuts must not fire there). */
export function isTextEntry(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement) return true;
  if (target instanceof HTMLInputElement)
    return !['button', 'checkbox', 'radio', 'submit', 'reset'].includes(target.type);
  return false;
}

/** A polite live region for announcements; returns a function that announces a text. */
export function announcer(parent: HTMLElement): (text: string) => void {
  const region = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  parent.appendChild(region);
  let n = 0;
  return (text) => {
    // A trailing space that alternates makes an identical text count as a change (and be read again).
    region.textContent = shown(n++ % 2 ? text : `${text} `);
  };
}
