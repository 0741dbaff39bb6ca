/**
 * Building the page: elements and text nodes only. Nothing here (or anywhere in the dashboard) parses markup, so a
 * key named `<img onerror=...>` is shown as those characters (eslint forbids innerHTML and friends in this folder).
 */

type Child = Node | string | number | false | null | undefined;
type Props = Partial<Record<string, string | number | boolean | EventListener | undefined>>;

/** `h('button', { class: 'danger', onclick: fn }, 'Drain')`: attributes as strings, `on*` as listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's children (keeps the element, so focus elsewhere and its listeners stay). */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(value: number): string {
  let n = value;
  let unit = 0;
  while (Math.abs(n) >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

export function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** 0.42 → "42%"; shares below 1% that are not zero say "<1%". */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '–';
  const share = (part / whole) * 100;
  return share > 0 && share < 1 ? '<1%' : `${Math.round(share)}%`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.round((seconds % 86_400) / 3600)} h`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A labelled bar: `<progress>` is announced by screen readers with its value; the label says it in words. */
export function bar(value: number, max: number, label: string, tone: 'normal' | 'warn' | 'full' = 'normal'): HTMLElement {
  const progress = h('progress', { value: Math.min(value, max), max: Math.max(max, 1), 'aria-label': label, class: `bar ${tone}` });
  return progress;
}

export function toneOf(used: number, limit: number): 'normal' | 'warn' | 'full' {
  if (limit <= 0) return 'normal';
  const share = used / limit;
  return share >= 0.95 ? 'full' : share >= 0.8 ? 'warn' : 'normal';
}
