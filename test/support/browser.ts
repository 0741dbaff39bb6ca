/**
 * A real browser for the dashboard's tests: Debian's Chromium (installed by the test setup when missing, like
 * radosgw), driven by playwright-core. Headless, no sandbox (tests may run as root), no network of its own.
 */
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
