/** What every part of the page shares: the problem banner, running an action, and asking for a fresh poll. */
import { byId, fill } from './dom.ts';

let refresh: () => void = () => {};

/** dashboard.ts registers the poller here; an action calls refreshNow() so its effect shows at once. */
export function onRefresh(callback: () => void): void {
  refresh = callback;
}

export function refreshNow(): void {
  refresh();
}

export function showProblem(message: string): void {
  const banner = byId('problem');
  fill(banner, message);
  banner.hidden = false;
}

export function clearProblem(): void {
  byId('problem').hidden = true;
}

/** Runs an action from a button: the button is busy meanwhile, a failure shows in the banner, the page refreshes. */
export async function perform(button: HTMLButtonElement | undefined, action: () => Promise<void>): Promise<void> {
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  try {
    clearProblem();
    await action();
  } catch (err) {
    showProblem(err instanceof Error ? err.message : String(err));
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
    refreshNow();
  }
}
