/** The development sign-in form: trades the admin token for the session cookie, then opens the dashboard. */
import { ApiError, api } from './api.ts';
import { byId, fill } from './dom.ts';

const form = byId<HTMLFormElement>('login');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const error = byId('login-error');
  const token = byId<HTMLInputElement>('token').value;
  api('POST', '/admin/login', { token })
    .then(() => window.location.assign('/admin/'))
    .catch((err: unknown) => {
      fill(error, err instanceof ApiError ? err.message : 'cannot reach the orchestrator');
      error.hidden = false;
    });
});
