/**
 * The dashboard's two HTML documents. They are static: every name, count and message on the page is put there by
 * the browser script as text (never as markup), so no tenant content is ever parsed as HTML, and the strict CSP
 * (routes.ts) needs no inline script or style.
 */

const HEAD = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/admin/assets/dashboard.css">`;

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>s3-orchestrator</title>
<script type="module" src="/admin/assets/dashboard.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>s3-orchestrator</h1>
  <nav aria-label="Sections">
    <a href="#fleet">Fleet</a>
    <a href="#jobs">Jobs</a>
    <a href="#recent">Activity</a>
    <a href="#objects">Objects</a>
    <a href="#config">Configuration</a>
  </nav>
  <span id="live" class="live" role="status" aria-live="polite">connecting…</span>
  <button type="button" id="sign-out" class="quiet">Sign out</button>
</header>
<main id="main">
  <p id="problem" class="problem" role="alert" hidden></p>
  <section id="fleet" aria-labelledby="fleet-title">
    <h2 id="fleet-title">Fleet</h2>
    <div id="summary" class="cards"></div>
    <div id="backends" class="backends"></div>
  </section>
  <section id="jobs" aria-labelledby="jobs-title">
    <h2 id="jobs-title">Jobs</h2>
    <div id="job-actions" class="actions"></div>
    <div id="job-list" class="job-list"></div>
    <h3>Cleanup queue</h3>
    <div id="cleanup"></div>
  </section>
  <section id="recent" aria-labelledby="recent-title">
    <h2 id="recent-title">Activity</h2>
    <div id="activity"></div>
  </section>
  <section id="objects" aria-labelledby="objects-title">
    <h2 id="objects-title">Objects</h2>
    <div id="browser"></div>
  </section>
  <section id="config" aria-labelledby="config-title">
    <h2 id="config-title">Configuration</h2>
    <div id="config-view"></div>
  </section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog" id="confirm-form">
    <h2 id="confirm-title"></h2>
    <div id="confirm-body"></div>
    <label id="confirm-typed-label" hidden><span id="confirm-typed-hint"></span><input id="confirm-typed" autocomplete="off" spellcheck="false"></label>
    <div class="dialog-buttons">
      <button type="submit" value="cancel" formnovalidate class="quiet">Cancel</button>
      <button type="submit" value="ok" id="confirm-ok" class="danger"></button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

export const LOGIN_PAGE = `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>Sign in · s3-orchestrator</title>
<script type="module" src="/admin/assets/login.js"></script>
</head>
<body class="login">
<main id="main">
  <form id="login" class="login-form">
    <h1>s3-orchestrator</h1>
    <p>Development sign-in: the admin token from your configuration (<code>admin.token</code>). In production the
    dashboard is behind Cloudflare Access instead.</p>
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Sign in</button>
    <p id="login-error" class="problem" role="alert" hidden></p>
  </form>
</main>
</body>
</html>
`;

/** A plain page for the browser that cannot see the dashboard (production without Access, an unknown path). */
export function messagePage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en"><head>${HEAD}<title>${escapeHtml(title)}</title></head>
<body class="login"><main id="main"><div class="login-form"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></div></main></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
