// browser.mjs launches Debian's Chromium under playwright-core with the
// flags these tests need and a fresh profile, and collects errors from the
// pages it opens. playwright's own browser download cannot work here and
// is never used.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Console errors a page logs by design while a server is down.
const EXPECTED = [/WebSocket connection to .* failed/, /Failed to load resource/, /net::ERR_CONNECTION_REFUSED/];

/**
 * launch starts Chromium with a fresh --user-data-dir (playwright passes it
 * for a persistent context) and returns { context, version, errors, open,
 * close }. open(label, url) opens a page and records its uncaught errors
 * and unexpected console errors in errors.
 */
export async function launch({ viewport = { width: 1280, height: 800 }, timeout = 10_000 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "rushws-e2e-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    viewport,
    timeout: timeout * 2,
  });
  const errors = [];
  const version = context.browser()?.version() ?? "";
  return {
    context,
    version,
    errors,
    async open(label, url) {
      const page = await context.newPage();
      page.setDefaultTimeout(timeout);
      page.on("pageerror", (err) => errors.push(`${label}: ${err.message}`));
      page.on("console", (msg) => {
        if (msg.type() === "error" && !EXPECTED.some((re) => re.test(msg.text()))) errors.push(`${label} console: ${msg.text()}`);
      });
      const resp = await page.goto(url);
      if (!resp || !resp.ok()) throw new Error(`${label}: GET ${url} answered ${resp ? resp.status() : "nothing"}`);
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
