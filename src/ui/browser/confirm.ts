/**
 * Confirmation before anything changes, in the page's one <dialog> (modal: focus stays inside, Escape cancels).
 * A destructive action can demand that the operator type a phrase (the prefix, the backend's name) first.
 */
import { byId, fill } from './dom.ts';

export interface Confirmation {
  title: string;
  body: (Node | string)[];
  ok: string;
  /** The exact text to type before the OK button works. */
  typed?: string;
}

export function confirmAction(request: Confirmation): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm');
  const okButton = byId<HTMLButtonElement>('confirm-ok');
  const typedLabel = byId('confirm-typed-label');
  const typedInput = byId<HTMLInputElement>('confirm-typed');
  fill(byId('confirm-title'), request.title);
  fill(byId('confirm-body'), ...request.body.map((part) => (typeof part === 'string' ? Object.assign(document.createElement('p'), { textContent: part }) : part)));
  fill(okButton, request.ok);
  typedInput.value = '';
  typedLabel.hidden = request.typed === undefined;
  okButton.disabled = request.typed !== undefined;
  if (request.typed !== undefined) {
    fill(byId('confirm-typed-hint'), 'Type ', Object.assign(document.createElement('code'), { textContent: request.typed }), ' to confirm');
  }
  const onInput = () => {
    okButton.disabled = typedInput.value !== request.typed;
  };
  typedInput.addEventListener('input', onInput);
  dialog.returnValue = '';
  dialog.showModal();
  if (request.typed !== undefined) typedInput.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        typedInput.removeEventListener('input', onInput);
        resolve(dialog.returnValue === 'ok' && (request.typed === undefined || typedInput.value === request.typed));
      },
      { once: true },
    );
  });
}
