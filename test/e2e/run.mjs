// Real-editor tests: the packaged VSIX installed into code-server 4.100.0 (VS Code 1.100.0),
// driven by playwright-core in Debian's Chromium. Fully offline: only 127.0.0.1 is reached.
//
//   node test/e2e/run.mjs            (npm run test:e2e builds the VSIX and installs code-server first)
//
// Steps: 1 activation, 2 Attack This Model from the explorer, 3 cancel, 4 bad model then a good run,
// 5 training from the context menu, 6 Evaluate (strong) on the distilled model shows the masking banner,
// …, 40–42 an .onnx model attacked from the explorer and its lens in a Python file and a notebook cell.
// Screenshots go to test-output/e2e/ (git-ignored); UPDATE_SCREENSHOTS=1 also refreshes the README's
// (MEDIA_SCREENSHOTS, from the steps that passed). Ends with "N passed, N failed".
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CS = path.join(
  process.env.CS_DIR || path.join(ROOT, '.e2e', 'code-server'),
  'node_modules',
  'code-server',
  'out',
  'node',
  'entry.js',
);
const VSIX = path.join(ROOT, 'robustness-lab.vsix');
const OUT = path.join(ROOT, 'test-output', 'e2e');
const PORT = Number(process.env.CS_PORT || 18517);
const started = Date.now();
const log = (...a) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, timeout = 60_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await sleep(150);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-e2e-'));
const dataDir = path.join(tmp, 'data');
const extDir = path.join(tmp, 'extensions');
const workspace = path.join(tmp, 'workspace');
const env = {
  ...process.env,
  XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
  XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
  XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
  EXTENSIONS_GALLERY: '{}',
};
const common = ['--config', path.join(tmp, 'config.yaml'), '--user-data-dir', dataDir, '--extensions-dir', extDir];

/** The line of EXPORT_PY and of the notebook's code cell that names the model (its lens sits above it). */
const EXPORT_LINE = 'torch.onnx.export(model, x, "model.onnx", opset_version=13)';
const EXPORT_PY = [
  'import torch',
  'from train import NormalisingCnn',
  '',
  'model = NormalisingCnn().eval()',
  'x = torch.zeros(1, 1, 28, 28)',
  EXPORT_LINE,
  '',
].join('\n');
const EXPORT_NOTEBOOK = {
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Export the model to ONNX'] },
    {
      cell_type: 'code',
      execution_count: null,
      metadata: {},
      outputs: [],
      source: [
        'import torch\n',
        'x = torch.zeros(1, 1, 28, 28)\n',
        EXPORT_LINE.replace('"model.onnx"', '"../model.onnx"'),
      ],
    },
  ],
  metadata: {
    kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
    language_info: { name: 'python' },
  },
  nbformat: 4,
  nbformat_minor: 5,
};

function prepare() {
  fs.mkdirSync(OUT, { recursive: true });
  fs.mkdirSync(path.join(dataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'config.yaml'), `bind-addr: 127.0.0.1:${PORT}\nauth: none\ncert: false\n`);
  fs.writeFileSync(
    path.join(dataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'git.enabled': false,
        'npm.autoDetect': 'off',
        'explorer.compactFolders': false,
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'robustness.samples': 300,
        'robustness.training.trainImages': 1000,
      },
      null,
      2,
    ),
  );
  // The workspace: the example model where the issue expects it, and a malformed one.
  const model = path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn');
  fs.mkdirSync(model, { recursive: true });
  for (const f of ['model.json', 'weights.bin'])
    fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', f), path.join(model, f));
  const distilled = path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn-distilled');
  fs.mkdirSync(distilled, { recursive: true });
  for (const f of ['model.json', 'weights.bin'])
    fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn-distilled', f), path.join(distilled, f));
  // The example spec and a Python file naming the example model (the language server's lenses).
  for (const f of ['smallcnn.robustness.json', 'inspect_model.py'])
    fs.copyFileSync(
      path.join(ROOT, 'examples', 'fashion-mnist', f),
      path.join(workspace, 'examples', 'fashion-mnist', f),
    );
  // A PyTorch model exported to ONNX, a Python file that exports it and a notebook whose cell
  // names it relative to the notebook's own folder (steps 40–42).
  const pytorch = path.join(workspace, 'examples', 'pytorch');
  fs.mkdirSync(path.join(pytorch, 'notebooks'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'examples', 'pytorch', 'model.onnx'), path.join(pytorch, 'model.onnx'));
  fs.writeFileSync(path.join(pytorch, 'export_model.py'), EXPORT_PY);
  fs.writeFileSync(path.join(pytorch, 'notebooks', 'export.ipynb'), JSON.stringify(EXPORT_NOTEBOOK, null, 1));
  fs.mkdirSync(path.join(workspace, 'broken'), { recursive: true });
  fs.writeFileSync(path.join(workspace, 'broken', 'model.json'), '{"modelTopology": {"class_name": "Sequential", ');
  execFileSync(process.execPath, [CS, ...common, '--install-extension', VSIX], { env, stdio: 'pipe' });
}

let server;
let context;
const results = [];

/** The README's screenshots: step number → (the step's screenshot → the file in media/). */
const MEDIA_SCREENSHOTS = {
  2: { '2-attack-panel.png': 'screenshot-attack-panel.png' },
  6: { '6-masking-banner.png': 'screenshot-evaluate-distilled.png' },
  7: { '7-spec-bad-eps.png': 'screenshot-spec.png' },
  15: { '15-evaluate-running.png': 'screenshot-evaluate-running.png' },
  20: { '20-training-panel.png': 'screenshot-training-panel.png' },
  28: { '28-runs-view.png': 'screenshot-runs-view.png' },
};

function updateMedia() {
  for (const { name, ok } of results) {
    if (!ok) continue;
    for (const [shot, media] of Object.entries(MEDIA_SCREENSHOTS[name.split('.')[0]] ?? {}))
      fs.copyFileSync(path.join(OUT, shot), path.join(ROOT, 'media', media));
  }
}

/** E2E_STEPS=1,7,8 runs only those steps (while working on them; CI runs all). */
const only = process.env.E2E_STEPS?.split(',').map((n) => n.trim());

async function step(name, fn) {
  if (only && !only.includes(name.split('.')[0])) return;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    results.push({ name, ok: false, err });
    log(`not ok - ${name}: ${err.message}`);
    const tail = extensionLog().trim().split('\n').slice(-25).join('\n      ');
    if (tail) log(`the extension's log, last lines:\n      ${tail}`);
    const page = context?.pages()[0];
    await page?.screenshot({ path: path.join(OUT, `fail-${results.length}.png`) }).catch(() => {});
  }
}

function extensionLog() {
  const find = (dir) =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory()
          ? find(path.join(dir, e.name))
          : e.name === 'Robustness Lab.log'
            ? [path.join(dir, e.name)]
            : [],
      );
  const files = fs.existsSync(path.join(dataDir, 'logs')) ? find(path.join(dataDir, 'logs')) : [];
  return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

async function main() {
  prepare();
  log('extension installed');
  server = spawn(
    process.execPath,
    [
      CS,
      ...common,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      workspace,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const serverLog = fs.createWriteStream(path.join(OUT, 'code-server.log'));
  server.stdout.pipe(serverLog);
  server.stderr.pipe(serverLog);
  const base = `http://127.0.0.1:${PORT}`;
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, 'code-server /healthz', 30_000);

  context = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1500, height: 950 },
    env: {
      ...process.env,
      XDG_CONFIG_HOME: path.join(tmp, 'chromium-xdg'),
      XDG_CACHE_HOME: path.join(tmp, 'chromium-cache'),
    },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    ],
  });
  await context.route(
    (u) => u.hostname !== '127.0.0.1' && /^(https?|wss?):$/.test(u.protocol),
    (route) => route.abort(),
  );
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.explorer-folders-view').first().waitFor({ timeout: 60_000 });
  const workbenchAt = Date.now();
  log('workbench visible');

  const webview = () => page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  const explorerRow = (label, level) =>
    page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${label}"][aria-level="${level}"]`).first();
  /** A notification, as a toast or, once toasts are hidden, in the notification center. */
  async function notification(text) {
    const item = page
      .locator('.notifications-toasts .notification-list-item, .notifications-center .notification-list-item', {
        hasText: text,
      })
      .first();
    return waitFor(
      async () => {
        if (await item.isVisible()) return item;
        if (!(await page.locator('.notifications-center.visible').count()))
          await page
            .locator(
              '.statusbar-item[id*="notifications"], .statusbar-item .codicon-bell, .statusbar-item .codicon-bell-dot',
            )
            .first()
            .click()
            .catch(() => {});
        return false;
      },
      `a notification containing "${text}"`,
      60_000,
    );
  }

  /** Hides the notification toasts (they stay in the notification center): opens the center, then closes it. */
  async function hideToasts() {
    const toasts = page.locator('.notifications-toasts .notification-toast');
    if (
      !(await toasts
        .first()
        .isVisible()
        .catch(() => false))
    )
      return;
    const bell = page
      .locator('.statusbar-item[id*="notifications"], .statusbar-item .codicon-bell, .statusbar-item .codicon-bell-dot')
      .first();
    await bell.click();
    await page.locator('.notifications-center.visible').waitFor({ timeout: 5_000 });
    await bell.click();
    await page.locator('.notifications-center.visible').waitFor({ state: 'hidden', timeout: 5_000 });
    await waitFor(async () => !(await toasts.first().isVisible()), 'the toasts to hide', 5_000);
  }

  /**
   * Expands the explorer down a path and returns the row of its last segment. Each segment is
   * looked up among the rows under the previous one (by the list's data-index), so a same-named
   * file in another expanded folder (smallcnn-distilled/model.json) is never taken for it.
   */
  async function revealInExplorer(segments) {
    // From a collapsed tree, only the path's own folders open: no other expanded folder shifts or shadows its rows.
    await page.keyboard.press('Control+Shift+E');
    await page.locator('.explorer-folders-view').first().waitFor({ timeout: 10_000 });
    const rows = page.locator('.explorer-folders-view .monaco-list-rows > .monaco-list-row');
    const collapse = page
      .locator('.explorer-viewlet .pane-header .action-label[aria-label^="Collapse Folders"]')
      .first();
    await waitFor(
      async () => {
        if (await rows.evaluateAll((all) => all.every((r) => r.getAttribute('aria-level') === '1'))) return true;
        // The title bar's actions show while the pane's header is hovered.
        await page.locator('.explorer-viewlet .pane-header').first().hover();
        await collapse.click({ timeout: 2_000 });
        return false;
      },
      'the explorer to collapse',
      10_000,
    );
    // The row of segments[0..depth], found from the top on every look: rows added above (a new run folder,
    // .vscode/) shift every data-index, so no index is kept between looks.
    const locate = (depth) =>
      rows.evaluateAll(
        (all, { segments, depth }) => {
          const byIndex = all
            .map((r) => ({
              index: Number(r.getAttribute('data-index')),
              label: r.getAttribute('aria-label'),
              level: Number(r.getAttribute('aria-level')),
            }))
            .sort((x, y) => x.index - y.index);
          let from = -1;
          for (let i = 0; i <= depth; i++) {
            // The rows after the parent, up to the next row that is not inside it.
            const inside = byIndex.filter((r) => r.index > from);
            const end = inside.findIndex((r) => r.level < i + 1);
            const match = (end < 0 ? inside : inside.slice(0, end)).find(
              (r) => r.level === i + 1 && r.label === segments[i],
            );
            if (!match) return false;
            from = match.index;
          }
          return String(from);
        },
        { segments, depth },
      );
    const rowAt = (index) => rows.and(page.locator(`[data-index="${index}"]`));
    for (const [i, name] of segments.entries()) {
      const what = `"${segments.slice(0, i + 1).join('/')}" in the explorer`;
      await waitFor(() => locate(i), what, 20_000);
      if (i === segments.length - 1) break;
      await waitFor(
        async () => {
          const row = rowAt(await locate(i));
          const expanded = await row.getAttribute('aria-expanded');
          if (expanded === 'true') return true;
          await row.click();
          await sleep(1000);
          return false;
        },
        `${name} to expand`,
        15_000,
      );
    }
    return rowAt(await waitFor(() => locate(segments.length - 1), `"${segments.join('/')}" in the explorer`, 20_000));
  }

  /** Right-clicks a row and runs a context-menu item, retrying when a click is lost to the menu's animation. */
  async function contextMenu(row, label) {
    const menu = page.locator('.context-view .monaco-menu');
    await waitFor(
      async () => {
        if (await menu.isVisible()) await page.keyboard.press('Escape');
        await row.click({ button: 'right' });
        // The menu belongs to the row under the pointer at the click: if the tree redrew and another row took the
        // focus, close the menu and click again.
        if (!(await row.evaluate((el) => el.classList.contains('focused')).catch(() => false))) {
          await sleep(300);
          throw new Error('the row under the pointer changed');
        }
        const item = menu.locator('.action-menu-item', { hasText: label }).first();
        await item.waitFor({ state: 'visible', timeout: 3000 });
        // Hovering focuses the item; Enter runs it. (A click can fall through to the row or inline action
        // under the menu when the menu closes first, e.g. as a notification takes the focus.)
        await item.hover();
        const focused = () => item.evaluate((a) => a.closest('.action-item')?.classList.contains('focused') ?? false);
        await waitFor(focused, `"${label}" to take the focus`, 3000);
        await page.keyboard.press('Enter');
        // The menu closes once the command is dispatched.
        await menu.waitFor({ state: 'hidden', timeout: 3000 });
        return true;
      },
      `"${label}" in the context menu`,
      60_000,
    );
  }

  async function attackFromExplorer(segments) {
    await contextMenu(await revealInExplorer(segments), 'Attack This Model');
  }

  let activationMs;
  await step('1. activation: the Robustness container shows the Models and Runs views', async () => {
    const t0 = Date.now();
    const container = page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first();
    await container.waitFor({ timeout: 60_000 });
    await container.click();
    await page.locator('.pane-header', { hasText: 'Models' }).first().waitFor({ timeout: 30_000 });
    await page.locator('.pane-header', { hasText: 'Runs' }).first().waitFor({ timeout: 30_000 });
    await page
      .locator('.monaco-list-row', { hasText: 'smallcnn' })
      .filter({ hasText: '28×28×1 → 10' })
      .first()
      .waitFor({ timeout: 30_000 });
    activationMs = Date.now() - t0;
    await page.screenshot({ path: path.join(OUT, '1-activation.png') });
    const m = /activated in (\d+) ms/.exec(
      await waitFor(() => /activated in/.test(extensionLog()) && extensionLog(), 'the activation log line', 10_000),
    );
    log(
      `activation: extension activate() ${m?.[1]} ms; container click → models listed ${activationMs} ms; ` +
        `workbench → now ${Date.now() - workbenchAt} ms`,
    );
  });

  /** The Runs view's pane (its header, rows and welcome). */
  const runsPane = () => page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^Runs/ }) }).first();
  const modelsPane = () => page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^Models/ }) }).first();

  // issue 16 — views: the empty Runs view, before step 2 creates the first run.
  /** Shows the Robustness container (its activity-bar icon toggles the side bar: click only when hidden). */
  async function showRobustness() {
    const header = page.locator('.pane-header', { hasText: /^Runs/ }).first();
    if (!(await header.isVisible()))
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
    await header.waitFor({ timeout: 20_000 });
  }

  await step('25. (item 7) the empty Runs view offers "Attack a Model…" and "Train a Model…"', async () => {
    await showRobustness();
    const welcome = runsPane().locator('.welcome-view-content');
    await welcome.waitFor({ timeout: 30_000 });
    const buttons = (await welcome.locator('.monaco-button').allInnerTexts()).map((t) => t.trim());
    if (!buttons.includes('Attack a Model…') || !buttons.includes('Train a Model…'))
      throw new Error(`the Runs welcome's buttons: ${buttons.join(' | ')}`);
    if (buttons.includes('Show Engine Log')) throw new Error('the engine log is still a button of the welcome');
    await page.screenshot({ path: path.join(OUT, '25-runs-welcome.png') });
    log(`Runs welcome: ${buttons.join(' | ')}`);
  });

  await step(
    '2. Attack This Model from the explorer: ≥16 rows, a curve of ≥5 points, robust < clean, a run in Runs',
    async () => {
      const t0 = Date.now();
      await attackFromExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']);
      await webview().locator('#toolbar').waitFor({ timeout: 30_000 });
      const firstPaint = Date.now() - t0;
      await webview().locator('#grid .row').nth(15).waitFor({ timeout: 240_000 });
      const rows = await webview().locator('#grid .row').count();
      const points = Number(await webview().locator('#curve').getAttribute('data-points'));
      const clean = Number(await webview().locator('#summary').getAttribute('data-clean'));
      const robust = Number(await webview().locator('#summary').getAttribute('data-robust'));
      if (rows < 16) throw new Error(`${rows} image rows`);
      if (points < 5) throw new Error(`curve has ${points} points`);
      if (!(robust < clean)) throw new Error(`robust ${robust} is not below clean ${clean}`);
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
      await hideToasts(); // the first run's .gitignore offer stays in the notification center (step 28 answers it)
      await page.screenshot({ path: path.join(OUT, '2-attack-panel.png') });
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
      await page
        .locator('.monaco-list-row', { hasText: 'robust' })
        .filter({ hasText: 'smallcnn' })
        .first()
        .waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(OUT, '2-runs-view.png') });
      const panelReady = /attack panel ready (\d+) ms/.exec(extensionLog())?.[1];
      log(
        `rows ${rows}, curve points ${points}, clean ${clean}, robust ${robust}; ` +
          `panel first paint ${firstPaint} ms after the click (host: ready ${panelReady} ms after creation); ` +
          `whole run ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    },
  );

  await step('3. cancel: a long run stops, the status bar clears, no error is raised', async () => {
    const settings = path.join(workspace, '.vscode', 'settings.json');
    fs.mkdirSync(path.dirname(settings), { recursive: true });
    fs.writeFileSync(settings, JSON.stringify({ 'robustness.samples': 2000, 'robustness.attack.steps': 400 }));
    try {
      // Attack once the extension host has seen the new settings (it logs every change), so that
      // exactly one long run starts and no earlier run is left queued behind it.
      await waitFor(
        () => /settings changed: .*samples 2000,/.test(extensionLog()),
        'the extension to see samples = 2000',
        60_000,
      );
      const runsBefore = (extensionLog().match(/run \S+: attack /g) ?? []).length;
      await attackFromExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']);
      const started = await waitFor(
        () => {
          const runs = [...extensionLog().matchAll(/run (\S+): attack .* n=(\d+)/g)];
          return runs.length > runsBefore && runs;
        },
        'the run to start',
        60_000,
      );
      if (started.length !== runsBefore + 1 || started[started.length - 1][2] !== '2000') {
        throw new Error(
          `expected one new run with n=2000, got: ${started
            .slice(runsBefore)
            .map((m) => m[0])
            .join('; ')}`,
        );
      }
      const runId = started[started.length - 1][1];
      await page
        .locator('.statusbar-item', { hasText: /PGD|FGSM|clean|starting/ })
        .first()
        .waitFor({ timeout: 60_000 });
      await webview().locator('vscode-button', { hasText: 'Cancel' }).click();
      await webview().locator('#run-status', { hasText: 'Cancelled' }).waitFor({ timeout: 30_000 });
      await waitFor(
        () => extensionLog().includes(`run ${runId} cancelled`),
        `the log line "run ${runId} cancelled"`,
        60_000,
      );
      await waitFor(
        async () => (await page.locator('.statusbar-item', { hasText: /PGD-400|FGSM|starting/ }).count()) === 0,
        'the status bar item to clear',
        15_000,
      );
      if (await page.locator('.notifications-toasts .notification-toast .codicon-error').count())
        throw new Error('an error notification appeared');
      await page.screenshot({ path: path.join(OUT, '3-cancelled.png') });
    } finally {
      const changes = (extensionLog().match(/settings changed: .*samples 300,/g) ?? []).length;
      fs.rmSync(settings, { force: true });
      // Later steps need the defaults back: the extension logs every change of its settings.
      await waitFor(
        () => (extensionLog().match(/settings changed: .*samples 300,/g) ?? []).length > changes,
        'the settings to return to the defaults',
        30_000,
      ).catch(() => sleep(3000));
    }
  });

  await step('4. a malformed model.json gives an error naming the file; the next attack still works', async () => {
    await attackFromExplorer(['broken', 'model.json']);
    const text = await (await notification('broken/model.json')).innerText();
    if (!/is not valid JSON/.test(text)) throw new Error(`unexpected error text: ${text}`);
    await page.screenshot({ path: path.join(OUT, '4-bad-model.png') });
    await page.keyboard.press('Escape');
    const panels = await page.locator('.tabs-container .tab').count();
    await attackFromExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']);
    await waitFor(async () => (await page.locator('.tabs-container .tab').count()) > panels, 'a new attack panel');
    await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
    if ((await webview().locator('#grid .row').count()) < 16)
      throw new Error('the run after the bad model shows too few rows');
  });

  await step(
    '5. training: start from the context menu, see epochs in Runs, stop, resume, finish, attack the final model',
    async () => {
      await contextMenu(
        await revealInExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']),
        'Adversarially Train From This Model',
      );
      const input = page.locator('.quick-input-widget input');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'PGD-AT' })
        .first()
        .waitFor({ timeout: 20_000 });
      await input.fill('PGD-AT');
      await page.keyboard.press('Enter');
      // An input box ignores Enter while its validation is still running: press it until the step moves on.
      const moved = async (next) =>
        next
          ? page.locator('.quick-input-widget', { hasText: next }).isVisible()
          : !(await page.locator('.quick-input-widget').isVisible());
      const submit = async (title, next) =>
        waitFor(
          async () => {
            if (await moved(next)) return true;
            await page.keyboard.press('Enter');
            await sleep(1000);
            return moved(next);
          },
          `the quick input to move past "${title}"`,
          20_000,
        );
      await page.locator('.quick-input-widget', { hasText: 'ε' }).waitFor({ timeout: 10_000 });
      await submit('ε', 'epochs'); // ε = 0.1
      await page.locator('.quick-input-widget', { hasText: 'epochs' }).waitFor({ timeout: 10_000 });
      await input.fill('4');
      await waitFor(async () => (await input.inputValue()) === '4', 'the epochs input to read 4', 5_000);
      await submit('epochs');
      await waitFor(
        () => /training \S+: pgd-at, 4 epochs/.test(extensionLog()),
        'the log line "training …: pgd-at, 4 epochs"',
        60_000,
      );
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
      // The run is named after its model, method, ε and epochs; its description says the epoch.
      const runRow = () =>
        page
          .locator('.pane')
          .filter({ has: page.locator('.pane-header', { hasText: /^Runs/ }) })
          .locator('.monaco-list-row', { hasText: 'smallcnn · PGD-AT ε=0.1 · 4 ep' });
      const run = runRow().first();
      await runRow()
        .filter({ hasText: /epoch 1\/4/ })
        .first()
        .waitFor({ timeout: 120_000 });
      await page.screenshot({ path: path.join(OUT, '5-training-live.png') });
      await contextMenu(run, 'Stop');
      await runRow().filter({ hasText: 'stopped' }).first().waitFor({ timeout: 60_000 });
      await contextMenu(run, 'Resume');
      await runRow()
        .filter({ hasText: /done · epoch 4\/4/ })
        .first()
        .waitFor({ timeout: 180_000 });
      const label = await run.innerText();
      if (!/robust \d/.test(label) || !/clean \d/.test(label)) throw new Error(`run row lacks accuracies: ${label}`);
      await page.screenshot({ path: path.join(OUT, '5-training-done.png') });
      const tabs = await page.locator('.tabs-container .tab').count();
      await contextMenu(run, 'Attack Final Model');
      await waitFor(
        async () => (await page.locator('.tabs-container .tab').count()) > tabs,
        'the attack panel of the final model',
      );
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      if ((await webview().locator('#grid .row').count()) < 16) throw new Error('too few rows for the final model');
      await page.screenshot({ path: path.join(OUT, '5-final-model-attack.png') });
      log(`training row at the end: ${label.replace(/\n/g, ' ')}`);
    },
  );

  await step(
    '6. Evaluate (strong) on the distilled example: the suite breaks it and the panel shows the gradient-masking ' +
      'banner',
    async () => {
      const tabs = await page.locator('.tabs-container .tab').count();
      // Collapse smallcnn/, so the first model.json at depth 4 is the distilled one.
      await revealInExplorer(['examples', 'fashion-mnist', 'smallcnn']);
      const plain = explorerRow('smallcnn', 3);
      if ((await plain.getAttribute('aria-expanded')) === 'true') await plain.click();
      await waitFor(
        async () => (await plain.getAttribute('aria-expanded')) === 'false',
        'smallcnn/ to collapse',
        10_000,
      );
      await contextMenu(
        await revealInExplorer(['examples', 'fashion-mnist', 'smallcnn-distilled', 'model.json']),
        'Evaluate (strong)',
      );
      await waitFor(async () => (await page.locator('.tabs-container .tab').count()) > tabs, 'the evaluation panel');
      await page
        .locator('.tabs-container .tab', { hasText: 'Evaluate (strong): smallcnn-distilled' })
        .waitFor({ timeout: 10_000 });
      // The new panel's iframe becomes the last ready one only once it loads: wait for its report.
      await webview().locator('h1', { hasText: 'smallcnn-distilled' }).waitFor({ timeout: 300_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
      const banner = await webview().locator('#masking-banner').innerText();
      if (!/Gradient masking detected/.test(banner) || !/saturated-softmax/.test(banner))
        throw new Error(`banner: ${banner}`);
      const cMedian = Number(await webview().locator('#geometry').getAttribute('data-c-median'));
      if (!(cMedian > 0)) throw new Error(`no representation constant in the panel (${cMedian})`);
      const robust = Number(await webview().locator('#summary').getAttribute('data-robust'));
      const stages = await webview().locator('#summary tbody tr').allInnerTexts();
      if (!(robust <= 0.05)) throw new Error(`the strong suite leaves ${robust} on the distilled model`);
      if (!stages.some((t) => /APGD-T/.test(t)) || !stages.some((t) => /Square/.test(t)))
        throw new Error(`stages: ${stages.join(' | ')}`);
      await page.screenshot({ path: path.join(OUT, '6-masking-banner.png') });
      log(
        `distilled under the strong suite: robust ${robust}; C median ${cMedian}; ` +
          `stages ${stages.map((t) => t.replace(/\s+/g, ' ')).join(' | ')}`,
      );
    },
  );

  /** Opens a file from the explorer (single click: the preview editor) and waits for its tab. */
  async function openFromExplorer(segments) {
    const row = await revealInExplorer(segments);
    await row.click();
    const name = segments[segments.length - 1];
    await page.locator('.tabs-container .tab', { hasText: name }).first().waitFor({ timeout: 20_000 });
    await page.locator('.tabs-container .tab.active', { hasText: name }).first().click();
  }
  const editor = () => page.locator('.editor-instance .monaco-editor').first();
  const lens = (pattern) => editor().locator('.codelens-decoration a', { hasText: pattern }).first();

  await step(
    '7. the example spec: a bad ε shows a red squiggle, hover on pgd shows its doc, Run turns the lens into a result',
    async () => {
      await openFromExplorer(['examples', 'fashion-mnist', 'smallcnn.robustness.json']);
      await lens('Run').waitFor({ timeout: 60_000 });
      // Put a minus sign before ε's value: line and column from the file itself.
      const lines = fs
        .readFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'), 'utf8')
        .split('\n');
      const line = lines.findIndex((l) => l.includes('"eps": 0.1'));
      const column = lines[line].indexOf('"eps": 0.1') + '"eps": '.length + 1;
      await editor().click();
      await page.keyboard.press('Control+G');
      await page.keyboard.type(`${line + 1}:${column}`);
      await page.keyboard.press('Enter');
      await page.keyboard.type('-');
      const squiggle = editor().locator('.squiggly-error').first();
      await squiggle.waitFor({ timeout: 30_000 });
      await squiggle.hover({ force: true });
      const problem = page.locator('.monaco-hover', { hasText: 'threat.eps must be ≥ 0' }).first();
      await problem.waitFor({ timeout: 15_000 });
      await page.waitForTimeout(500); // the hover fades in
      await page.screenshot({ path: path.join(OUT, '7-spec-bad-eps.png') });
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+Z');
      await waitFor(
        async () => (await editor().locator('.squiggly-error').count()) === 0,
        'the squiggle to go once ε is fixed',
        30_000,
      );
      const token = editor()
        .locator('.view-line span', { hasText: /^"pgd"$/ })
        .first();
      await token.hover();
      await page.locator('.monaco-hover', { hasText: 'Madry' }).first().waitFor({ timeout: 15_000 });
      const hoverText = await page.locator('.monaco-hover', { hasText: 'Madry' }).first().innerText();
      if (!/α·sign/.test(hoverText) || !/Defaults: steps 10/.test(hoverText)) throw new Error(`hover: ${hoverText}`);
      await page.waitForTimeout(500); // the hover fades in
      await page.screenshot({ path: path.join(OUT, '7-spec-hover.png') });
      await page.keyboard.press('Escape');
      await lens('Run').click();
      await page
        .locator('.tabs-container .tab', { hasText: 'smallcnn: FGSM and PGD-20' })
        .first()
        .waitFor({ timeout: 20_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      await page.locator('.tabs-container .tab', { hasText: 'smallcnn.robustness.json' }).first().click();
      const result = lens(
        /robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? \(PGD-20, ε=0\.1\) · clean \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])?/,
      );
      await result.waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(OUT, '7-spec-result-lens.png') });
      log(`spec lens after Run: ${await result.innerText()}`);
    },
  );

  await step("8. a Python file naming the example model shows a lens with that model's result", async () => {
    await openFromExplorer(['examples', 'fashion-mnist', 'inspect_model.py']);
    const result = lens(/robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? \(PGD-20, ε=0\.1\) · clean/);
    await result.waitFor({ timeout: 60_000 });
    await page.screenshot({ path: path.join(OUT, '8-source-lens.png') });
    log(`source lens: ${await result.innerText()}`);
  });

  // issue 16 — the language server and the examples (steps 35–39)
  /** Moves the cursor to a 1-based line and column with Go to Line. */
  async function goTo(line, column) {
    await editor().click();
    await page.keyboard.press('Control+G');
    await page.keyboard.type(`${line}:${column}`);
    await page.keyboard.press('Enter');
  }
  const specLines = () =>
    fs.readFileSync(path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'), 'utf8').split('\n');
  /** The text of the editor line that contains `needle` (as rendered, spaces normalised). */
  const renderedLine = async (needle) =>
    (await editor().locator('.view-line', { hasText: needle }).first().innerText()).replace(/\u00a0/g, ' ');

  await step(
    '35. (item 6) a Python file naming its model relative to its own folder gets the lens; a missing model, a hint',
    async () => {
      // Opened as the workspace root, the repository-style path would not resolve; this one is relative to the file.
      const file = path.join(workspace, 'examples', 'fashion-mnist', 'relative_model.py');
      fs.writeFileSync(
        file,
        '"""Names models relative to this folder."""\nmodel_path = "smallcnn/model.json"\n' +
          'other_path = "missing/model.json"\n',
      );
      await openFromExplorer(['examples', 'fashion-mnist', 'relative_model.py']);
      const found = lens(
        /robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? \(PGD-20, ε=0\.1\) · clean|Attack \(no robustness result yet\)/,
      );
      await found.waitFor({ timeout: 60_000 });
      const lensTexts = await editor().locator('.codelens-decoration a').allInnerTexts();
      if (lensTexts.length !== 1) throw new Error(`one lens expected (none on the missing model): ${lensTexts}`);
      const hint = editor().locator('.squiggly-hint').first();
      await hint.waitFor({ state: 'attached', timeout: 30_000 });
      await hint.hover({ force: true });
      const hover = page.locator('.monaco-hover', { hasText: 'no such model: missing/model.json' }).first();
      await hover.waitFor({ timeout: 15_000 });
      const hoverText = await hover.innerText();
      if (!/looked for examples\/fashion-mnist\/missing\/model\.json, missing\/model\.json/.test(hoverText))
        throw new Error(`hint: ${hoverText}`);
      if ((await editor().locator('.squiggly-error, .squiggly-warning').count()) !== 0)
        throw new Error('the missing model is a hint, not an error or a warning');
      await page.waitForTimeout(500); // the hover fades in
      await page.screenshot({ path: path.join(OUT, '35-relative-model-lens-and-hint.png') });
      await page.keyboard.press('Escape');
      log(`relative source lens: ${lensTexts[0]}; hint: ${hoverText.split(/\n|robustness\(/)[0]}`);
    },
  );

  await step(
    '36. (item 10) a negative ε offers "Use ε = 0.25" and the default; applying one fixes the spec',
    async () => {
      await openFromExplorer(['examples', 'fashion-mnist', 'smallcnn.robustness.json']);
      await lens('Run').waitFor({ timeout: 60_000 });
      const lines = specLines();
      const line = lines.findIndex((l) => l.includes('"eps": 0.1'));
      const column = lines[line].indexOf('"eps": 0.1') + '"eps": '.length + 1;
      await goTo(line + 1, column);
      for (let i = 0; i < '0.1'.length; i++) await page.keyboard.press('Shift+ArrowRight');
      await page.keyboard.type('-0.25');
      await editor().locator('.squiggly-error').first().waitFor({ timeout: 30_000 });
      await goTo(line + 1, column + 1);
      const menu = page.locator('.action-widget');
      await waitFor(
        async () => {
          if (!(await menu.isVisible())) await page.keyboard.press('Control+.');
          return (
            (await menu.locator('.monaco-list-row.action .title', { hasText: 'Use the default ε = 0.1' }).count()) > 0
          );
        },
        'the quick-fix menu with the ε fixes',
        30_000,
      );
      const labels = (await menu.locator('.monaco-list-row.action .title').allInnerTexts()).map((t) => t.trim());
      if (!labels.includes('Use ε = 0.25') || !labels.includes('Use the default ε = 0.1'))
        throw new Error(`quick fixes: ${labels.join(' | ')}`);
      await page.screenshot({ path: path.join(OUT, '36-negative-eps-quick-fix.png') });
      // The menu is driven from the keyboard (a pointer block covers it while it opens).
      const focused = menu.locator('.monaco-list-row.action.focused .title');
      await waitFor(
        async () => {
          if (((await focused.count()) ? await focused.innerText() : '').includes('Use the default ε = 0.1'))
            return true;
          await page.keyboard.press('ArrowDown');
          return false;
        },
        'the default-ε fix to be focused',
        10_000,
      );
      await page.keyboard.press('Enter');
      await waitFor(async () => (await renderedLine('"eps"')).includes('"eps": 0.1,'), 'ε to read 0.1 again', 15_000);
      await waitFor(
        async () => (await editor().locator('.squiggly-error').count()) === 0,
        'the squiggle to go once the fix is applied',
        30_000,
      );
      await page.keyboard.press('Control+S');
      await waitFor(
        async () => specLines().join('\n') === lines.join('\n'),
        'the saved spec to be the original again',
        15_000,
      );
      log(`ε quick fixes: ${labels.join(' | ')}`);
    },
  );

  await step('37. (item 10) completing an attack id before another inserts the comma the JSON needs', async () => {
    await openFromExplorer(['examples', 'fashion-mnist', 'smallcnn.robustness.json']);
    const lines = specLines();
    const line = lines.findIndex((l) => l.trimEnd().endsWith('"attacks": ['));
    if (line < 0) throw new Error('the example spec has no "attacks": [ line');
    await goTo(line + 1, lines[line].trimEnd().length + 1);
    await page.keyboard.press('Enter');
    await page.keyboard.type('"apg');
    const suggestion = page.locator('.suggest-widget .monaco-list-row', { hasText: 'apgd' }).first();
    await waitFor(
      async () => {
        if (await suggestion.isVisible()) return true;
        await page.keyboard.press('Control+Space');
        await page.waitForTimeout(500);
        return suggestion.isVisible();
      },
      'the apgd suggestion',
      30_000,
    );
    await page.screenshot({ path: path.join(OUT, '37-attack-completion.png') });
    const rows = await page.locator('.suggest-widget .monaco-list-row').allInnerTexts();
    const first = rows[0]?.split('\n')[0] ?? '';
    if (!first.startsWith('apgd')) throw new Error(`first suggestion: ${rows.join(' | ')}`);
    await page.keyboard.press('Enter');
    await waitFor(async () => /"apgd",\s*$/.test(await renderedLine('"apgd"')), 'the line to read "apgd",', 15_000);
    const inserted = (await renderedLine('"apgd"')).trim();
    if (inserted !== '"apgd",') throw new Error(`inserted: ${inserted}`);
    // The missing comma's squiggle (while "apg" was typed) goes: the spec is valid JSON again.
    await waitFor(
      async () => (await editor().locator('.squiggly-error').count()) === 0,
      'no error squiggle after the completion',
      15_000,
    );
    await page.screenshot({ path: path.join(OUT, '37-attack-completion-comma.png') });
    // Leave the example as it was: undo back to the saved version (the tab is no longer dirty).
    const dirtyTab = page.locator('.tabs-container .tab.dirty', { hasText: 'smallcnn.robustness.json' });
    for (let i = 0; i < 10 && (await dirtyTab.count()) > 0; i++) {
      await page.keyboard.press('Control+Z');
      await page.waitForTimeout(200);
    }
    if ((await dirtyTab.count()) > 0) throw new Error('the spec is still modified after undoing the completion');
    log(`completed line: ${inserted}`);
  });

  await step('38. (item 6) with examples/ opened as the workspace, inspect_model.py still shows its lens', async () => {
    // A second window on examples/ (its own extension host and language server), closed at the end.
    const other = await context.newPage();
    try {
      await other.goto(`${base}/?folder=${encodeURIComponent(path.join(workspace, 'examples'))}`);
      await other.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
      await other.locator('.explorer-folders-view').first().waitFor({ timeout: 60_000 });
      const row = (label, level) =>
        other.locator(`.explorer-folders-view .monaco-list-row[aria-label="${label}"][aria-level="${level}"]`).first();
      await row('fashion-mnist', 1).waitFor({ timeout: 20_000 });
      if ((await row('fashion-mnist', 1).getAttribute('aria-expanded')) === 'false')
        await row('fashion-mnist', 1).click();
      await row('inspect_model.py', 2).click();
      await other.locator('.tabs-container .tab.active', { hasText: 'inspect_model.py' }).waitFor({ timeout: 20_000 });
      const sourceLens = other
        .locator('.editor-instance .monaco-editor')
        .first()
        .locator('.codelens-decoration a', {
          hasText: /robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? \(PGD-20|Attack \(no robustness result yet\)/,
        })
        .first();
      await sourceLens.waitFor({ timeout: 60_000 });
      const line = await other
        .locator('.editor-instance .view-line', { hasText: 'smallcnn/model.json' })
        .first()
        .innerText();
      if (!line.includes('"smallcnn/model.json"')) throw new Error(`the example names its model as ${line}`);
      await other.screenshot({ path: path.join(OUT, '38-examples-workspace-lens.png') });
      log(`inspect_model.py with examples/ as the workspace: ${await sourceLens.innerText()}`);
    } finally {
      await other.close();
    }
  });
  // issue 16 — evaluation streaming (stages as they finish, elapsed time, partial report on cancel)
  /**
   * Starts Evaluate (strong) on examples/fashion-mnist/<model> from the explorer and waits for its
   * panel. The other model folders are collapsed first, so the first model.json at depth 4 is its.
   */
  async function evaluateExample(model) {
    const tabs = await page.locator('.tabs-container .tab').count();
    await revealInExplorer(['examples', 'fashion-mnist']);
    for (const other of ['smallcnn', 'smallcnn-distilled', 'smallcnn-robust'].filter((m) => m !== model)) {
      const row = explorerRow(other, 3);
      if ((await row.count()) && (await row.getAttribute('aria-expanded')) === 'true') await row.click();
    }
    await contextMenu(await revealInExplorer(['examples', 'fashion-mnist', model, 'model.json']), 'Evaluate (strong)');
    await waitFor(async () => (await page.locator('.tabs-container .tab').count()) > tabs, 'the evaluation panel');
    const title = new RegExp(`Evaluate \\(strong\\): ${model}(?![-\\w])`);
    await page.locator('.tabs-container .tab', { hasText: title }).last().waitFor({ timeout: 10_000 });
    // The new panel's iframe is the last ready one once it loads; its help line says what this panel does.
    await webview().locator('#panel-help', { hasText: 'each stage attacks only the points still robust' }).waitFor({
      timeout: 60_000,
    });
    return title;
  }
  /** The status-bar item of the running evaluation: "$(shield) 2/6 · APGD-T … 40/93 · 12 s". */
  const runStatusItem = () => page.locator('.statusbar-item', { hasText: /\d+\/\d+ · .* · \d+ s$/ }).first();
  const elapsed = async () => Number(/· (\d+) s$/.exec((await runStatusItem().innerText()).trim())?.[1]);

  await step(
    '15. (item 3) Evaluate (strong) streams its stages: clean and a finished stage with its accuracy and ' +
      '"stage k of N" before the run ends; the status bar\'s elapsed time counts on',
    async () => {
      await evaluateExample('smallcnn');
      const clean = webview().locator('#stages tr[data-kind="clean"]');
      await clean.waitFor({ timeout: 120_000 });
      const firstStage = webview().locator('#stages tr[data-kind="attack"][data-index="1"]');
      await firstStage.waitFor({ timeout: 180_000 });
      // Still running: the report has not replaced the stages table.
      if (!(await webview().locator('#stages').count())) throw new Error('the run ended before a stage was seen');
      const accuracy = Number(await firstStage.getAttribute('data-accuracy'));
      const cleanAccuracy = Number(await clean.getAttribute('data-accuracy'));
      const rowText = (await firstStage.innerText()).replace(/\s+/g, ' ');
      if (
        !(accuracy >= 0 && accuracy <= cleanAccuracy) ||
        !/APGD-CE \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\]) \(\d+\/300\)/.test(rowText)
      )
        throw new Error(`first stage: ${rowText} (accuracy ${accuracy}, clean ${cleanAccuracy})`);
      const progress = await webview().locator('#run-status').innerText();
      const caption = await webview().locator('#stages caption').innerText();
      if (!/^stage \d+ of \d+ · /.test(progress) || !/^stage \d+ of \d+ done/.test(caption))
        throw new Error(`no "stage k of N": progress "${progress}", table "${caption}"`);
      await page.screenshot({ path: path.join(OUT, '15-evaluate-running.png') });
      // The elapsed seconds count on between two reads, with or without a progress event.
      const first = await waitFor(
        async () => (await runStatusItem().isVisible()) && elapsed(),
        'the status bar',
        30_000,
      );
      await sleep(2500);
      const second = await elapsed();
      if (!(second >= first + 2)) throw new Error(`elapsed ${first} s, then ${second} s 2.5 s later`);
      const stagesSeen = (await webview().locator('#stages tbody tr').allInnerTexts()).map((t) =>
        t.replace(/\s+/g, ' '),
      );
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 400_000 });
      const rows = (await webview().locator('#summary tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
      if (rows.some((r) => /0\.00 s\s*0\s*0/.test(r)))
        throw new Error(`a skipped stage shows zeros: ${rows.join(' | ')}`);
      const banner = await webview().locator('#masking-banner').allInnerTexts();
      if (banner.some((b) => /Evaluate \(strong\)/.test(b)))
        throw new Error(`the banner sends the user to the command they ran: ${banner}`);
      await page.screenshot({ path: path.join(OUT, '15-evaluate-done.png') });
      log(
        `while running: ${stagesSeen.join(' | ')}; progress "${progress}"; elapsed ${first} → ${second} s; done: ${rows.join(' | ')}`,
      );
    },
  );

  await step(
    '16. (item 3, item 11) cancelling mid-evaluation keeps the finished stages ("cancelled after <stage>"), ' +
      'the run opens from Runs; the status-bar click asks first',
    async () => {
      // The robust example: its stages take long enough to cancel after APGD-T, during Square.
      const robust = path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn-robust');
      fs.mkdirSync(robust, { recursive: true });
      for (const f of ['model.json', 'weights.bin'])
        fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn-robust', f), path.join(robust, f));
      const title = await evaluateExample('smallcnn-robust');
      await webview().locator('#stages tr[data-kind="attack"][data-index="1"]').waitFor({ timeout: 240_000 });
      // One click on the status-bar item asks before cancelling a long evaluation; Keep Running keeps it.
      await runStatusItem().click();
      const dialog = page.locator('.monaco-dialog-box', { hasText: 'Cancel the evaluation?' });
      await dialog.waitFor({ timeout: 15_000 });
      const question = (await dialog.innerText()).replace(/\s+/g, ' ');
      if (!/Cancel the evaluation\? \d+ of \d+ stages? done/.test(question)) throw new Error(`dialog: ${question}`);
      await page.screenshot({ path: path.join(OUT, '16-cancel-question.png') });
      await dialog.locator('.monaco-button', { hasText: 'Keep Running' }).click();
      await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
      await sleep(1000);
      if (!(await webview().locator('#stages').count())) throw new Error('Keep Running did not keep the run running');
      await webview().locator('#stages tr[data-kind="attack"][data-index="2"]').waitFor({ timeout: 240_000 });
      await webview().locator('vscode-button', { hasText: 'Cancel' }).click();
      const status = webview().locator('#run-status', { hasText: 'Cancelled after' });
      await status.waitFor({ timeout: 60_000 });
      const statusText = await status.innerText();
      const after = /Cancelled after (.+?) · (\d+) of (\d+) stages kept/.exec(statusText);
      if (!after) throw new Error(`status: ${statusText}`);
      const partial = await webview().locator('#partial').innerText();
      if (!partial.includes(`cancelled after ${after[1]}`)) throw new Error(`partial caption: ${partial}`);
      const rows = (await webview().locator('#summary tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
      if (!rows.some((r) => r.startsWith('APGD-CE') && /\d+\.\d%/.test(r)))
        throw new Error(`rows: ${rows.join(' | ')}`);
      if (!rows.some((r) => r.startsWith('APGD-T') && /\d+\.\d%/.test(r))) throw new Error(`rows: ${rows.join(' | ')}`);
      await page.screenshot({ path: path.join(OUT, '16-evaluate-cancelled.png') });
      // The Runs view lists it as cancelled after that stage, and opens it.
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
      const item = page.locator('.monaco-list-row', { hasText: `cancelled after ${after[1]}` }).first();
      await item.waitFor({ timeout: 30_000 });
      // Close the evaluation's panel, so that Open shows the stored run, not the live panel.
      const live = page.locator('.tabs-container .tab', { hasText: title }).last();
      await live.hover();
      await live.locator('.codicon-close').click();
      await live.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
      await item.click();
      await page
        .locator('.tabs-container .tab', { hasText: 'Run: smallcnn-robust' })
        .first()
        .waitFor({ timeout: 30_000 });
      await webview()
        .locator('#partial', { hasText: `cancelled after ${after[1]}` })
        .waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(OUT, '16-cancelled-reopened.png') });
      log(`cancelled: "${statusText}"; rows ${rows.join(' | ')}`);
    },
  );
  // issue 16 — views
  /** Runs a command from the palette (F1), by its title. */
  async function runFromPalette(title) {
    const input = page.locator('.quick-input-widget input');
    await waitFor(
      async () => {
        if (!(await input.isVisible())) await page.keyboard.press('F1');
        await input.waitFor({ state: 'visible', timeout: 3000 });
        return true;
      },
      'the command palette',
      20_000,
    );
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
  }
  const runFolders = () => {
    const dir = path.join(workspace, '.robustness', 'runs');
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  };

  await step(
    '26. (item 7) "Robustness: Attack This Model" from the palette with no editor open: a quick pick of the ' +
      'listed models; choosing smallcnn starts the attack',
    async () => {
      await runFromPalette('View: Close All Editors');
      await waitFor(async () => (await page.locator('.tabs-container .tab').count()) === 0, 'no editor open', 10_000);
      const before = runFolders();
      await runFromPalette('Robustness: Attack This Model');
      const rows = page.locator('.quick-input-list .monaco-list-row');
      await rows.first().waitFor({ timeout: 20_000 });
      await page.locator('.quick-input-widget', { hasText: 'Which Model?' }).waitFor({ timeout: 10_000 });
      const items = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
      const smallcnn = items.find((t) => t.includes('examples/fashion-mnist/smallcnn/model.json'));
      if (!smallcnn || !/^smallcnn ?28×28×1 → 10/.test(smallcnn))
        throw new Error(`quick pick rows: ${items.join(' | ')}`);
      if (!items.some((t) => /^broken ?unreadable: is not valid JSON/.test(t)))
        throw new Error(`the broken model is not listed as unreadable: ${items.join(' | ')}`);
      await page.screenshot({ path: path.join(OUT, '26-model-quick-pick.png') });
      await page.locator('.quick-input-widget input').fill('examples/fashion-mnist/smallcnn/model.json');
      await waitFor(
        async () => (await rows.first().innerText()).includes('examples/fashion-mnist/smallcnn/model.json'),
        'the filtered pick to lead with smallcnn',
        10_000,
      );
      const attacksOfSmallcnn = () =>
        (extensionLog().match(/run \S+: attack examples\/fashion-mnist\/smallcnn\/model\.json/g) ?? []).length;
      const attacksBefore = attacksOfSmallcnn();
      await page.keyboard.press('Enter');
      await waitFor(
        () => attacksOfSmallcnn() > attacksBefore,
        'the attack of examples/fashion-mnist/smallcnn/model.json',
        30_000,
      );
      await page.locator('.tabs-container .tab', { hasText: 'Attack: smallcnn' }).first().waitFor({ timeout: 30_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      const added = runFolders().filter((id) => !before.includes(id));
      if (added.length !== 1) throw new Error(`expected one new run, got ${added.join(', ') || 'none'}`);
      log(`quick pick: ${items.join(' | ')}; run ${added[0]}`);
    },
  );

  await step(
    '27. (item 8) the broken model has a warning icon in Models; attacking it gives one message with ' +
      '"Open model.json" and leaves no run and no panel',
    async () => {
      await showRobustness();
      const row = modelsPane().locator('.monaco-list-row', { hasText: 'broken' }).first();
      await row.waitFor({ timeout: 30_000 });
      if (!(await row.locator('.codicon-warning').count())) throw new Error('the broken model has no warning icon');
      const before = runFolders();
      const tabs = await page.locator('.tabs-container .tab').count();
      await contextMenu(row, 'Attack This Model');
      const message = await notification('broken/model.json cannot be attacked');
      const text = (await message.innerText()).replace(/\s+/g, ' ');
      if (!/is not valid JSON/.test(text) || text.includes(workspace)) throw new Error(`message: ${text}`);
      if (!(await message.locator('.monaco-button', { hasText: 'Open model.json' }).count()))
        throw new Error(`no "Open model.json" action: ${text}`);
      await sleep(1500); // a run, had one started, would have made its folder and panel by now
      const shown = await page
        .locator('.notifications-toasts .notification-list-item', { hasText: 'broken/model.json' })
        .count();
      if (shown > 1) throw new Error(`${shown} messages about broken/model.json`);
      if (runFolders().length !== before.length) throw new Error('a run was recorded for the broken model');
      if ((await page.locator('.tabs-container .tab').count()) !== tabs) throw new Error('a panel opened');
      await page.screenshot({ path: path.join(OUT, '27-broken-model-refused.png') });
      await message.locator('.monaco-button', { hasText: 'Open model.json' }).click();
      await page.locator('.tabs-container .tab.active', { hasText: 'model.json' }).waitFor({ timeout: 15_000 });
      log(`refusal: ${text}`);
    },
  );

  await step(
    '28. (item 9) a finished evaluation reads "smallcnn · robust N%", with a readable tooltip and Open, Reveal ' +
      'Folder, Re-run in its menu; .robustness/ was offered for .gitignore',
    async () => {
      await runFromPalette('View: Close All Editors');
      await showRobustness();
      const row = runsPane()
        .locator('.monaco-list-row', { hasText: /smallcnn · robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])?/ })
        .first();
      await row.waitFor({ timeout: 30_000 });
      const label = (await row.locator('.label-name').innerText()).trim();
      const description = (await row.locator('.label-description').innerText()).trim();
      if (!/^smallcnn · robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])?$/.test(label))
        throw new Error(`label: ${label}`);
      if (!/ε=0\.1 · clean \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? · (just now|\d+ min ago)$/.test(description))
        throw new Error(`description: ${description}`);
      const hover = page.locator('.monaco-hover', { hasText: 'started' }).first();
      await waitFor(
        async () => {
          await page.mouse.move(5, 400);
          await row.locator('.label-name').hover();
          await hover.waitFor({ timeout: 3_000 });
          return true;
        },
        "the run's tooltip",
        20_000,
      );
      const tooltip = (await hover.innerText()).replace(/\s+/g, ' ');
      if (!/started \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d · /.test(tooltip) || /\d{4}-\d\dT/.test(tooltip))
        throw new Error(`tooltip: ${tooltip}`);
      if (!tooltip.includes('examples/fashion-mnist/smallcnn/model.json')) throw new Error(`tooltip: ${tooltip}`);
      await page.waitForTimeout(500); // the hover fades in
      await page.screenshot({ path: path.join(OUT, '28-runs-tooltip.png') });
      await page.mouse.move(5, 400);
      const menu = page.locator('.context-view .monaco-menu');
      await row.click({ button: 'right' });
      await menu.waitFor({ timeout: 10_000 });
      const entries = (await menu.locator('.action-menu-item').allInnerTexts()).map((t) => t.trim());
      for (const wanted of ['Open Run', 'Reveal Folder', 'Re-run', 'Delete Run'])
        if (!entries.includes(wanted)) throw new Error(`the run's menu: ${entries.join(' | ')}`);
      const inline = await row.locator('.actions .action-label').count();
      await page.keyboard.press('Escape');
      if (inline < 3) throw new Error(`${inline} inline actions on a finished evaluation`);
      await page.screenshot({ path: path.join(OUT, '28-runs-view.png') });
      // Reveal Folder shows the run's folder in the explorer.
      const runId = runFolders().at(-1);
      await contextMenu(row, 'Reveal Folder');
      await explorerRow(runId, 3).waitFor({ timeout: 20_000 });
      // The store's folder was announced once, with the offer to keep it out of Git.
      const offer = await notification('keeps its runs and reports in .robustness/');
      const offered = (await offer.innerText()).replace(/\s+/g, ' ');
      await offer.locator('.monaco-button', { hasText: 'Add to .gitignore' }).click();
      const gitignore = path.join(workspace, '.gitignore');
      await waitFor(() => fs.existsSync(gitignore) && fs.readFileSync(gitignore, 'utf8'), '.gitignore', 10_000);
      if (fs.readFileSync(gitignore, 'utf8') !== '.robustness/\n')
        throw new Error(`.gitignore: ${JSON.stringify(fs.readFileSync(gitignore, 'utf8'))}`);
      // Re-run runs the stored job again as a new run.
      const before = runFolders();
      await showRobustness();
      await contextMenu(
        runsPane()
          .locator('.monaco-list-row', { hasText: /smallcnn · robust/ })
          .first(),
        'Re-run',
      );
      await page.locator('.tabs-container .tab', { hasText: 'Re-run: smallcnn' }).first().waitFor({ timeout: 30_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      const rerun = runFolders().filter((id) => !before.includes(id));
      if (rerun.length !== 1) throw new Error(`Re-run made ${rerun.length} runs`);
      log(`Runs row: "${label}" — "${description}"; tooltip: ${tooltip}; menu: ${entries.join(' | ')}; ${offered}`);
    },
  );

  await step(
    '29. (item 7) the Models view context menu: Attack first, then Curve and Evaluate, Train, then Reveal and Open',
    async () => {
      await showRobustness();
      const row = modelsPane()
        .locator('.monaco-list-row', { hasText: '28×28×1 → 10' })
        .filter({ has: page.locator('.label-name', { hasText: /^smallcnn$/ }) })
        .first();
      await row.waitFor({ timeout: 30_000 });
      const menu = page.locator('.context-view .monaco-menu');
      await row.click({ button: 'right' });
      await menu.waitFor({ timeout: 10_000 });
      const entries = await menu
        .locator('.action-item')
        .evaluateAll((items) =>
          items.map((item) =>
            item.classList.contains('disabled') && item.querySelector('.separator') ? '|' : item.textContent.trim(),
          ),
        );
      await page.screenshot({ path: path.join(OUT, '29-models-menu.png') });
      await page.keyboard.press('Escape');
      const order = entries.filter((e) => e !== '').join(' ');
      const expected =
        'Attack This Model Robustness Curve Evaluate (strong) | Adversarially Train From This Model | ' +
        'Reveal Model Open Model File';
      if (!order.startsWith(expected)) throw new Error(`the Models menu: ${order}`);
      log(`Models menu: ${order}`);
    },
  );

  await step(
    '30. (item 7) "Add the Fashion-MNIST Example" copies the example into the workspace, opens its spec and ' +
      'lists the model',
    async () => {
      await runFromPalette('Robustness: Add the Fashion-MNIST Example');
      const example = path.join(workspace, 'robustness-example');
      try {
        await page
          .locator('.tabs-container .tab.active', { hasText: 'smallcnn.robustness.json' })
          .waitFor({ timeout: 20_000 });
        const message = await notification('added the Fashion-MNIST example');
        const text = (await message.innerText()).replace(/\s+/g, ' ');
        if (!text.includes('robustness-example/smallcnn/model.json')) throw new Error(`message: ${text}`);
        for (const file of ['smallcnn/model.json', 'smallcnn/weights.bin', 'smallcnn.robustness.json'])
          if (!fs.existsSync(path.join(example, file))) throw new Error(`${file} was not copied`);
        await showRobustness();
        const models = modelsPane().locator('.monaco-list-row', { hasText: /^smallcnn\s*28×28×1 → 10$/ });
        await waitFor(
          async () => (await models.count()) === 2,
          'the example listed beside the workspace smallcnn',
          20_000,
        );
        await page.screenshot({ path: path.join(OUT, '30-example-added.png') });
        log(`example: ${text}`);
      } finally {
        // Later steps expect the workspace as prepare() made it.
        await runFromPalette('View: Close All Editors').catch(() => {});
        fs.rmSync(example, { recursive: true, force: true });
        // A deleted folder is not a deleted model.json to the view's watcher: refresh it by hand.
        const listed = modelsPane().locator('.monaco-list-row', { hasText: /^smallcnn\s*28×28×1 → 10$/ });
        await waitFor(
          async () => {
            await modelsPane().locator('.pane-header').hover();
            await modelsPane().locator('.pane-header .action-label[aria-label="Refresh Models"]').click();
            return (await listed.count()) === 1;
          },
          'the example to leave Models',
          20_000,
        );
      }
    },
  );

  await step(
    '31. (item 11) the Settings editor lists the settings in order: threat model (Epsilon), attack, data, ' +
      'samples, training, backend',
    async () => {
      await runFromPalette('Preferences: Open Settings (UI)');
      const search = page.locator('.settings-editor .suggest-input-container .monaco-editor textarea').first();
      await search.waitFor({ timeout: 20_000 });
      await search.focus();
      await page.keyboard.type('@ext:robustness-lab.robustness-lab');
      const titles = page.locator('.settings-editor .setting-item-title');
      await page.locator('.settings-editor', { hasText: 'Epsilon (ε)' }).first().waitFor({ timeout: 20_000 });
      await sleep(500);
      await page.screenshot({ path: path.join(OUT, '31-settings.png') });
      // The list is virtual: gather the titles while scrolling down it.
      const shown = [];
      for (let turn = 0; turn < 40 && !shown.some((t) => t.endsWith('Workers')); turn++) {
        for (const title of await titles.allInnerTexts()) {
          const text = title.replace(/\s+/g, ' ').trim();
          if (text && !shown.includes(text)) shown.push(text);
        }
        await page.mouse.move(900, 650); // over the settings list
        await page.mouse.wheel(0, 500);
        await sleep(300);
      }
      const expected = [
        'Threat Model: Norm',
        'Threat Model: Epsilon',
        'Attack: Steps',
        'Attack: Step Size',
        'Attack: Restarts',
        'Curve: Epsilons',
        'Dataset',
        'Data Folder',
        'Data Labels',
        'Data Resize',
        'Data Channels',
        'Preprocess: Scale',
        'Preprocess: Mean',
        'Preprocess: Std',
        'Samples',
        'Report: Examples',
        'Training: Train Images',
        'Backend',
        'Workers',
      ];
      const at = expected.map((title) => shown.findIndex((t) => t.endsWith(title)));
      if (at.some((i) => i < 0) || at.some((i, k) => k > 0 && i <= at[k - 1]))
        throw new Error(`the settings' order: ${shown.join(' | ')}`);
      if (shown.some((t) => /\bEps\b/.test(t))) throw new Error(`a title still says Eps: ${shown.join(' | ')}`);
      await runFromPalette('View: Close All Editors');
      log(`settings: ${shown.join(' | ')}`);
    },
  );

  await step(
    '32. (item 9) a finished training run lists its final model under "Trained" in the Models view',
    async () => {
      const before = runFolders();
      await runFromPalette('Robustness: New Training Run');
      const input = page.locator('.quick-input-widget input');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'Standard' })
        .first()
        .waitFor({ timeout: 20_000 });
      await input.fill('Standard');
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget', { hasText: 'epochs' }).waitFor({ timeout: 10_000 });
      await input.fill('1');
      await waitFor(
        async () => {
          if (!(await page.locator('.quick-input-widget', { hasText: 'epochs' }).isVisible())) return true;
          await page.keyboard.press('Enter');
          await sleep(1000);
          return false;
        },
        'the epochs input to close',
        20_000,
      );
      const runId = await waitFor(() => runFolders().find((id) => !before.includes(id)), 'the training run', 30_000);
      await waitFor(
        () => {
          const record = JSON.parse(
            fs.readFileSync(path.join(workspace, '.robustness', 'runs', runId, 'run.json'), 'utf8'),
          );
          if (record.status === 'failed') throw new Error(`training failed: ${record.error}`);
          return record.status === 'done';
        },
        'the training run to finish',
        240_000,
      );
      await showRobustness();
      const group = modelsPane()
        .locator('.monaco-list-row', { hasText: /^Trained/ })
        .first();
      await group.waitFor({ timeout: 30_000 });
      const record = JSON.parse(
        fs.readFileSync(path.join(workspace, '.robustness', 'runs', runId, 'run.json'), 'utf8'),
      );
      const name = record.name ?? runId.replace(/-train$/, '');
      const trained = modelsPane()
        .locator('.monaco-list-row[aria-level="2"]', { hasText: name })
        .filter({ hasText: '28×28×1 → 10' })
        .first();
      await trained.waitFor({ timeout: 10_000 });
      const label = (await trained.innerText()).replace(/\s+/g, ' ');
      await page.screenshot({ path: path.join(OUT, '32-trained-models.png') });
      await trained.click({ button: 'right' });
      const menu = page.locator('.context-view .monaco-menu');
      await menu.waitFor({ timeout: 10_000 });
      const first = (await menu.locator('.action-menu-item').first().innerText()).trim();
      await page.keyboard.press('Escape');
      if (first !== 'Attack This Model') throw new Error(`the trained model's menu starts with ${first}`);
      log(`trained model: ${label} (run ${runId})`);
    },
  ); // issue 16 — training
  const trainingName = 'smallcnn · PGD-AT ε=0.1 · 6 ep';
  const renamed = 'baseline PGD-AT run';
  /** The training panel's frame (the one webview with the runs table; other panels may be open beside it). */
  const trainingFrame = () =>
    waitFor(
      async () => {
        for (const frame of page.frames()) {
          if (
            await frame
              .locator('#runs-body')
              .count()
              .catch(() => 0)
          )
            return frame;
        }
        return false;
      },
      'the training panel',
      60_000,
    );
  /**
   * Starts a training run from the example model's context menu: method, ε (default), epochs. Returns the
   * cost estimate the method picker and the epochs box showed; confirms the cost dialog when one comes.
   */
  async function startTraining(method, describedBy, epochs, { answer = 'Start', expectDialog = false } = {}) {
    await contextMenu(
      await revealInExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']),
      'Adversarially Train From This Model',
    );
    const input = page.locator('.quick-input-widget input');
    const row = page
      .locator('.quick-input-list .monaco-list-row', { hasText: method })
      .filter({ hasText: describedBy })
      .first();
    await row.waitFor({ timeout: 20_000 });
    const detail = await row.innerText();
    if (!/About \d+(\.\d)? (s|min|h) \(/i.test(detail)) throw new Error(`no cost estimate for ${method}: ${detail}`);
    await input.fill(method);
    await page.keyboard.press('Enter');
    if (method !== 'Standard') {
      await page.locator('.quick-input-widget', { hasText: 'ε' }).waitFor({ timeout: 10_000 });
      await waitFor(
        async () => {
          if (await page.locator('.quick-input-widget', { hasText: 'epochs' }).isVisible()) return true;
          await page.keyboard.press('Enter');
          await sleep(1000);
          return page.locator('.quick-input-widget', { hasText: 'epochs' }).isVisible();
        },
        'the quick input to move past ε',
        20_000,
      );
    }
    await page.locator('.quick-input-widget', { hasText: 'epochs' }).waitFor({ timeout: 10_000 });
    await input.fill(epochs);
    // The cost of this many epochs, under the box, as it is typed.
    const message = page.locator('.quick-input-widget .quick-input-message', {
      hasText: new RegExp(`About .* \\(${epochs} epochs? × ~`),
    });
    await message.waitFor({ timeout: 10_000 });
    const estimate = await message.innerText();
    const dialog = page.locator('.monaco-dialog-box');
    await waitFor(
      async () => {
        if (await dialog.isVisible()) return true;
        if (!(await page.locator('.quick-input-widget').isVisible())) return true;
        await page.keyboard.press('Enter');
        await sleep(1000);
        return (await dialog.isVisible()) || !(await page.locator('.quick-input-widget').isVisible());
      },
      'the quick input to move past "epochs"',
      20_000,
    );
    await sleep(500);
    let confirmation;
    if (await dialog.isVisible()) {
      confirmation = await dialog.locator('.dialog-message-text').innerText();
      if (!/Start this training run\? About/.test(confirmation)) throw new Error(`unexpected dialog: ${confirmation}`);
      await dialog.locator('.monaco-button', { hasText: answer }).first().click();
      await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    } else if (expectDialog) throw new Error(`no cost confirmation for ${epochs} epochs (${estimate})`);
    return { detail: detail.replace(/\n/g, ' '), estimate, confirmation };
  }

  await step(
    "20. (items 4, 5) a training run is named, shows its cost, its batches in the status bar and the panel, and the panel's Stop stops it",
    async () => {
      // A long run asks first; Cancel starts nothing.
      const runs = path.join(workspace, '.robustness', 'runs');
      const count = () => (fs.existsSync(runs) ? fs.readdirSync(runs).length : 0);
      const before = count();
      const long = await startTraining('PGD-AT', 'Madry et al. 2018', '100', { answer: 'Cancel', expectDialog: true });
      await sleep(1000);
      if (count() !== before) throw new Error('a cancelled confirmation started a run');
      // 8,000 training images (1,000 elsewhere), so that an epoch lasts long enough to see its batches and to stop
      // it mid-run on an idle machine too.
      const settings = path.join(workspace, '.vscode', 'settings.json');
      fs.mkdirSync(path.dirname(settings), { recursive: true });
      const saved = fs.existsSync(settings) ? fs.readFileSync(settings, 'utf8') : undefined;
      const changes = () => (extensionLog().match(/settings changed:/g) ?? []).length;
      const changesBefore = changes();
      fs.writeFileSync(
        settings,
        JSON.stringify({ ...JSON.parse(saved ?? '{}'), 'robustness.training.trainImages': 8000 }, null, 2),
      );
      await waitFor(() => changes() > changesBefore, 'the extension to see trainImages = 8000', 60_000);
      let cost;
      try {
        cost = await startTraining('PGD-AT', 'Madry et al. 2018', '6');
      } finally {
        if (saved === undefined) fs.rmSync(settings);
        else fs.writeFileSync(settings, saved);
      }
      const status = page.locator('.statusbar-item', {
        hasText: /smallcnn · PGD-AT · epoch 1\/6 · batch \d+\/\d+ · \d+:\d\d/,
      });
      await status.first().waitFor({ timeout: 180_000 });
      const statusText = await status.first().innerText();
      // The status-bar item opens the panel on this run (whether or not the panel is open already).
      const tab = page.locator('.tabs-container .tab', { hasText: `Training: ${trainingName}` }).first();
      const statusItem = page.locator('.statusbar-item', { hasText: /smallcnn · PGD-AT · (epoch|loading|building)/ });
      await statusItem.first().click();
      await tab.waitFor({ timeout: 30_000 });
      const frame = await trainingFrame();
      const row = frame.locator('#runs-body tr', { hasText: trainingName });
      await row.waitFor({ timeout: 30_000 });
      const progress = row.locator('.progress', { hasText: /epoch \d: (batch \d+\/\d+|measuring accuracy…)/ });
      await progress.waitFor({ timeout: 60_000 });
      const progressText = await progress.innerText();
      await row.locator('.status-icon.codicon-sync.spin').waitFor();
      await page.screenshot({ path: path.join(OUT, '20-training-panel-live.png') });
      // One finished epoch, so the charts have a point each, then Stop from the panel.
      await row.locator('td:nth-child(4)', { hasText: /^[1-3]\/6$/ }).waitFor({ timeout: 300_000 });
      const legend = await frame.locator('#loss').getAttribute('aria-label');
      if (legend !== `training loss per epoch: ${trainingName} (circle)`) throw new Error(`loss legend: ${legend}`);
      await row.locator('vscode-button[data-action="stop"]').click();
      await row.locator('td.status', { hasText: 'stopped' }).waitFor({ timeout: 60_000 });
      if (!(await row.locator('td.status .status-icon.codicon-debug-stop').count()))
        throw new Error("the stopped run lacks the Stop action's icon");
      if ((await row.locator('td.status').innerText()).includes('cancelled')) throw new Error('"cancelled" shown');
      await waitFor(async () => (await statusItem.count()) === 0, 'the status-bar item to go', 30_000);
      await page.screenshot({ path: path.join(OUT, '20-training-panel.png') });
      log(
        `picker: ${cost.detail}; epochs box: ${cost.estimate}; 100 epochs: ${long.confirmation}; ` +
          `status bar: ${statusText}; panel: ${progressText}; ` +
          `loss legend: ${legend}`,
      );
    },
  );

  await step('21. (item 4) rename from the Runs view; Compare and the delete dialog name each run', async () => {
    await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
    const runRow = () =>
      page
        .locator('.pane')
        .filter({ has: page.locator('.pane-header', { hasText: /^Runs/ }) })
        .locator('.monaco-list-row', { hasText: new RegExp(`${trainingName}|${renamed}`) })
        .first();
    await runRow().waitFor({ timeout: 30_000 });
    // Where the Runs view shows run names, the new name must show there too.
    const namesInRuns = (await page.locator('.monaco-list-row', { hasText: trainingName }).count()) > 0;
    const input = page.locator('.quick-input-widget input');
    const holdsName = async () => (await input.inputValue().catch(() => '')) === trainingName;
    await waitFor(
      async () => {
        if (await holdsName()) return true;
        // The menu dispatched Rename Run but no box holds the name (the focus moved as it opened): ask again.
        if (await page.locator('.quick-input-widget').isVisible()) await page.keyboard.press('Escape');
        await contextMenu(runRow(), 'Rename Run');
        return waitFor(holdsName, 'the rename box', 5_000);
      },
      'the rename box to hold the name',
      40_000,
    );
    await input.fill('x'.repeat(81));
    await page
      .locator('.quick-input-widget .quick-input-message', { hasText: 'At most 80 characters (this one has 81).' })
      .waitFor({ timeout: 10_000 });
    await input.fill(renamed);
    await waitFor(
      async () => {
        if (!(await page.locator('.quick-input-widget').isVisible())) return true;
        await page.keyboard.press('Enter');
        await sleep(1000);
        return !(await page.locator('.quick-input-widget').isVisible());
      },
      'the rename box to close',
      20_000,
    );
    const runs = path.join(workspace, '.robustness', 'runs');
    await waitFor(
      () =>
        fs
          .readdirSync(runs)
          .some(
            (id) =>
              fs.existsSync(path.join(runs, id, 'run.json')) &&
              JSON.parse(fs.readFileSync(path.join(runs, id, 'run.json'), 'utf8')).name === renamed,
          ),
      `run.json to hold the name "${renamed}"`,
      10_000,
    );
    await page
      .locator('.tabs-container .tab', { hasText: `Training: ${renamed}` })
      .first()
      .waitFor({ timeout: 10_000 });
    if (namesInRuns) await page.locator('.monaco-list-row', { hasText: renamed }).first().waitFor({ timeout: 10_000 });
    // The delete dialog says the name (and is cancelled here).
    await contextMenu(
      page.locator('.monaco-list-row', { hasText: new RegExp(`${renamed}|pgd-at · epoch \\d/6`) }).first(),
      'Delete Run',
    );
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    const question = await dialog.innerText();
    if (!question.includes(`Delete run ${renamed} and everything in its folder?`))
      throw new Error(`delete dialog: ${question}`);
    await dialog.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    // A second, short run, then Compare: each run by name, with its own marker.
    await startTraining('Standard', 'no adversary', '1');
    const standard = 'smallcnn · Standard · 1 ep';
    let frame = await trainingFrame();
    await frame
      .locator('#runs-body tr', { hasText: standard })
      .locator('td.status', { hasText: 'done' })
      .waitFor({ timeout: 240_000 });
    await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
    await contextMenu(runRow(), 'Compare Training Runs');
    await page
      .locator('.tabs-container .tab', { hasText: /Training: \d+ runs compared/ })
      .first()
      .waitFor();
    frame = await trainingFrame();
    for (const name of [renamed, standard]) await frame.locator('#runs-body tr', { hasText: name }).first().waitFor();
    const scatter = await frame.locator('#tradeoff').getAttribute('aria-label');
    const marker = (name) =>
      new RegExp(`${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(([a-z ]+)\\)`).exec(scatter)?.[1];
    if (!marker(renamed) || !marker(standard) || marker(renamed) === marker(standard))
      throw new Error(`the trade-off legend does not tell the runs apart: ${scatter}`);
    await page.screenshot({ path: path.join(OUT, '21-compare.png') });
    log(`trade-off legend: ${scatter}; Runs view shows names: ${namesInRuns}`);
  });

  // issue 16 — the attack/report panel (items 1, 2 and 10)
  /** Runs a command from the palette by its title. */
  async function palette(title) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    await pickRow(title);
  }
  /** Clicks the quick-input row labelled exactly `label` (Enter would take the fuzzy match's first row). */
  async function pickRow(label) {
    const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    const row = page
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: exact }) })
      .first();
    await row.waitFor({ timeout: 10_000 });
    await row.click();
  }
  /** The simple file dialog's path (code-server's save dialog is a quick input holding the path). */
  async function saveDialogPath() {
    const input = page.locator('.quick-input-widget input');
    return waitFor(
      async () =>
        (await input.isVisible()) && /\.(html|json|png)$/.test(await input.inputValue()) && input.inputValue(),
      'the save dialog with a proposed file name',
      20_000,
    );
  }
  const runsDir = path.join(workspace, '.robustness', 'runs');

  await step(
    '10. (item 1) clean mistakes are not fooled: "N of M fooled" leaves them out, they read "already wrong" under ' +
      'their own filter, and each row names its attack',
    async () => {
      // One editor group, so the panel has the window's width (step 12 measures its grid).
      await palette('View: Close All Editor Groups');
      // An editor an earlier step left edited asks first: its edits are not this step's business.
      const dontSave = page.locator('.monaco-dialog-box .monaco-button', { hasText: "Don't Save" });
      await dontSave.click({ timeout: 2000 }).catch(() => {});
      await attackFromExplorer(['examples', 'fashion-mnist', 'smallcnn', 'model.json']);
      await page.locator('.tabs-container .tab', { hasText: 'Attack: smallcnn' }).first().waitFor({ timeout: 30_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      const heading = webview().locator('#samples-heading');
      const [fooled, attacked, mistakes] = await Promise.all(
        ['data-fooled', 'data-attacked', 'data-clean-mistakes'].map(async (a) => Number(await heading.getAttribute(a))),
      );
      const rows = webview().locator('#grid .row');
      const outcomes = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-outcome')));
      const countOf = (o) => outcomes.filter((x) => x === o).length;
      if (
        countOf('fooled') !== fooled ||
        countOf('clean-mistake') !== mistakes ||
        outcomes.length - mistakes !== attacked
      )
        throw new Error(`heading ${fooled}/${attacked}/${mistakes} vs rows ${JSON.stringify(outcomes)}`);
      const text = await heading.innerText();
      const expected = `${fooled} of ${attacked} fooled · ${mistakes} already wrong`;
      if (!text.includes(expected)) throw new Error(`heading "${text}", expected "${expected}"`);
      if (mistakes < 1) throw new Error('no clean mistake among the rows: the step cannot check them');
      // Every row names its attack: one of the table's, or "already wrong".
      const labels = (await webview().locator('#summary tbody tr td:first-child').allInnerTexts()).map((t) => t.trim());
      const verdicts = await webview().locator('#grid .row .verdict').allInnerTexts();
      for (const v of verdicts) {
        const m = /^(?:fooled by|robust to) (.+)$/.exec(v);
        if (v !== 'already wrong' && !(m && labels.includes(m[1])))
          throw new Error(`row says "${v}"; attacks ${labels}`);
      }
      await webview().locator('#filter-clean-mistake').check();
      await waitFor(async () => (await rows.count()) === mistakes, `${mistakes} rows under "clean mistakes"`, 10_000);
      for (const r of await rows.all()) {
        const t = await r.innerText();
        if ((await r.getAttribute('data-outcome')) !== 'clean-mistake' || !t.includes('already wrong'))
          throw new Error(`a row under "clean mistakes": ${t}`);
        if (!(await r.locator('.clean figcaption').innerText()).includes('✗')) throw new Error(`no ✗ on: ${t}`);
      }
      await page.screenshot({ path: path.join(OUT, '10-clean-mistakes.png') });
      await webview().locator('#filter-fooled').check();
      await waitFor(async () => (await rows.count()) === fooled, `${fooled} rows under "fooled only"`, 10_000);
      const shown = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-outcome')));
      if (shown.some((o) => o !== 'fooled')) throw new Error(`"fooled only" shows ${shown}`);
      await webview().locator('#filter-all').check();
      await page.screenshot({ path: path.join(OUT, '10-fooled-count.png') });
      log(`rows: ${fooled} of ${attacked} fooled, ${mistakes} already wrong; verdicts e.g. ${verdicts.slice(0, 3)}`);
    },
  );

  await step(
    "11. (item 2) Export HTML proposes <model>-<attack>-eps<ε>.html in the run's folder and the saved message " +
      'offers Open and Reveal; Export PNG the same name; Export… in Runs does the same for JSON',
    async () => {
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 240_000 });
      await webview().locator('vscode-button', { hasText: 'Export HTML' }).click();
      const proposed = await saveDialogPath();
      const m = /[\\/]\.robustness[\\/]runs[\\/]([^\\/]+)[\\/](smallcnn-[a-z0-9.-]+-eps0\.1\.html)$/.exec(proposed);
      if (!m) throw new Error(`the save dialog proposes ${proposed}`);
      await page.screenshot({ path: path.join(OUT, '11-export-dialog.png') });
      await page.keyboard.press('Enter');
      const saved = path.join(runsDir, m[1], m[2]);
      await waitFor(() => fs.existsSync(saved), saved, 20_000);
      if (!/<script type="application\/json" id="report-data">/.test(fs.readFileSync(saved, 'utf8')))
        throw new Error(`${saved} is not a report page`);
      const note = await notification(`saved .robustness/runs/${m[1]}/${m[2]}`);
      const buttons = await note.locator('.monaco-button').allInnerTexts();
      if (!buttons.includes('Open') || !buttons.includes('Reveal')) throw new Error(`buttons: ${buttons}`);
      await page.screenshot({ path: path.join(OUT, '11-export-saved.png') });
      await note.locator('.monaco-button', { hasText: 'Open' }).click();
      await page.locator('.tabs-container .tab.active', { hasText: m[2] }).first().waitFor({ timeout: 20_000 });
      await page.keyboard.press('Control+W'); // back to the panel, for step 12
      // Export PNG: the curve, under the same name, as a PNG file.
      await webview().locator('vscode-button', { hasText: 'Export PNG' }).click();
      const png = await saveDialogPath();
      if (!png.endsWith(path.join(m[1], m[2].replace(/\.html$/, '.png'))))
        throw new Error(`Export PNG proposes ${png}`);
      await page.keyboard.press('Enter');
      const savedPng = path.join(runsDir, m[1], m[2].replace(/\.html$/, '.png'));
      await waitFor(() => fs.existsSync(savedPng), savedPng, 20_000);
      if (fs.readFileSync(savedPng).subarray(1, 4).toString() !== 'PNG') throw new Error(`${savedPng} is not a PNG`);
      // The Runs view's Export… on the same run: HTML or JSON, the same name and folder.
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
      // A finished evaluation of smallcnn ("smallcnn · robust N%"; training runs read "smallcnn · PGD-AT …").
      const run = page.locator('.pane-body .monaco-list-row', { hasText: /smallcnn · robust \d/ });
      await contextMenu(run.first(), 'Export…');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'JSON' })
        .first()
        .waitFor({ timeout: 10_000 });
      await page.locator('.quick-input-widget input').fill('JSON');
      await page.keyboard.press('Enter');
      const json = await saveDialogPath();
      const j = /[\\/]\.robustness[\\/]runs[\\/]([^\\/]+)[\\/](smallcnn-[a-z0-9.-]+-eps0\.1\.json)$/.exec(json);
      if (!j) throw new Error(`Export… proposes ${json}`);
      await page.keyboard.press('Enter');
      const savedJson = path.join(runsDir, j[1], j[2]);
      await waitFor(() => fs.existsSync(savedJson), savedJson, 20_000);
      const report = JSON.parse(fs.readFileSync(savedJson, 'utf8'));
      if (!report.examples.every((e) => ['fooled', 'robust', 'clean-mistake'].includes(e.outcome)))
        throw new Error('the exported report lacks outcomes');
      await notification(`saved .robustness/runs/${j[1]}/${j[2]}`);
      log(`export proposed ${path.relative(workspace, proposed)}; Export… proposed ${path.relative(workspace, json)}`);
    },
  );

  await step(
    '12. (item 10) the grid uses the width, the clean swatch is a dashed line, the header names the data, the ' +
      'drop shows, and a theme switch redraws the chart',
    async () => {
      // Step 10's panel, active again once step 11 closed the exported page.
      const tab = page.locator('.tabs-container .tab.active', { hasText: 'Attack: smallcnn' }).first();
      await tab.waitFor({ timeout: 10_000 });
      const title = await tab.innerText();
      if (/linf/.test(title) || !/L∞ ε=0\.1/.test(title)) throw new Error(`tab title: ${title}`);
      await webview().locator('#grid .row').first().waitFor({ timeout: 30_000 });
      const columns = await webview()
        .locator('#grid')
        .evaluate((g) => g.ownerDocument.defaultView.getComputedStyle(g).gridTemplateColumns.split(' ').length);
      if (columns < 2) throw new Error(`${columns} column(s) of triplets at 1500 px`);
      const dash = await webview()
        .locator('#curve-legend button[data-series="clean"] line')
        .getAttribute('stroke-dasharray');
      if (!dash) throw new Error('the clean swatch is not dashed');
      const meta = await webview().locator('#report-meta').innerText();
      if (!meta.startsWith('embedded Fashion-MNIST sample') || /extensions|\/media\//.test(meta))
        throw new Error(`header: ${meta}`);
      await webview().locator('#sort').selectOption('drop');
      const drops = await webview().locator('#grid .row .drop').allInnerTexts();
      if (drops.length < 2 || !drops.every((d) => /^(−\d+|\+\d+|0) pts$/.test(d))) throw new Error(`drops: ${drops}`);
      const values = drops.map((d) => Number(d.replace('−', '-').replace(' pts', '')));
      if (values.some((v, i) => i > 0 && v < values[i - 1])) throw new Error(`not sorted by drop: ${drops}`);
      await page.screenshot({ path: path.join(OUT, '12-grid.png') });
      const before = await webview().locator('#curve').getAttribute('data-fg');
      const pickTheme = async (name) => {
        await palette('Preferences: Color Theme');
        await page.locator('.quick-input-widget input').fill(name);
        await pickRow(name);
      };
      // code-server starts light here (it follows the browser's preference): switch to the other kind and back.
      const light = (await page.locator('.monaco-workbench.vs').count()) > 0;
      const [other, back] = light ? ['Dark Modern', 'Light Modern'] : ['Light Modern', 'Dark Modern'];
      try {
        await pickTheme(other);
        const after = await waitFor(
          async () => {
            const fg = await webview().locator('#curve').getAttribute('data-fg');
            return fg !== before && fg;
          },
          `the chart to redraw in ${other}`,
          20_000,
        );
        const sortColour = await webview()
          .locator('#sort')
          .evaluate((s) => {
            const style = s.ownerDocument.defaultView.getComputedStyle(s);
            return [style.color, style.backgroundColor];
          });
        if (sortColour[0] === sortColour[1]) throw new Error(`the sort control reads ${sortColour}`);
        await page.screenshot({ path: path.join(OUT, `12-grid-${light ? 'dark' : 'light'}.png`) });
        log(`grid: ${columns} columns; chart foreground ${before} → ${after}; sort control ${sortColour}`);
      } finally {
        await pickTheme(back).catch(() => {});
      }
    },
  );

  await step(
    "13. (item 10) a spec's Run opens the report beside the spec, the tab says L∞, and the header says n comes " +
      'from the spec',
    async () => {
      await openFromExplorer(['examples', 'fashion-mnist', 'smallcnn.robustness.json']);
      await palette('Robustness: Run Experiment Spec');
      const tab = page.locator('.tabs-container .tab', { hasText: 'smallcnn: FGSM and PGD-20' }).last();
      await tab.waitFor({ timeout: 30_000 });
      const title = await tab.innerText();
      if (/linf/.test(title) || !/L∞ ε=0\.1/.test(title)) throw new Error(`tab title: ${title}`);
      // Each group shows one tab: the spec and the report both shown means side by side.
      const shownIn = (text) =>
        page.locator('.editor-group-container').filter({ has: page.locator('.tab.active', { hasText: text }) });
      await waitFor(
        async () =>
          (await shownIn('smallcnn: FGSM and PGD-20').count()) > 0 &&
          (await shownIn('smallcnn.robustness.json').count()) > 0,
        'the report beside the spec (both shown)',
        20_000,
      );
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 300_000 });
      const note = await webview().locator('#n-source').innerText();
      if (
        !/^n = 500 from the spec examples\/fashion-mnist\/smallcnn\.robustness\.json; robustness\.samples is 300$/.test(
          note,
        )
      )
        throw new Error(`n note: ${note}`);
      await page.screenshot({ path: path.join(OUT, '13-spec-beside.png') });
      // A run opened from Runs while the spec is the active editor: beside it too, not in its place.
      await palette('View: Close All Editor Groups');
      await page
        .locator('.monaco-dialog-box .monaco-button', { hasText: "Don't Save" })
        .click({ timeout: 2000 })
        .catch(() => {});
      await openFromExplorer(['examples', 'fashion-mnist', 'smallcnn.robustness.json']);
      await page.locator('.activitybar .action-item a[aria-label^="Robustness"]').first().click();
      const runsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) });
      await runsPane
        .locator('.monaco-list-row', { hasText: /smallcnn · robust \d/ })
        .first()
        .click();
      await waitFor(
        async () =>
          (await shownIn('Run: smallcnn').count()) > 0 && (await shownIn('smallcnn.robustness.json').count()) > 0,
        'the reopened report beside the spec',
        20_000,
      );
      // The one webview on screen (other panels stay loaded, hidden, behind their tabs).
      const shown = page.locator('iframe.webview.ready:visible').last().contentFrame().locator('#active-frame');
      await shown.contentFrame().locator('#samples-heading').waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(OUT, '13-open-from-runs.png') });
      log(`spec run beside the spec: ${note}`);
    },
  );

  // Your own model, everywhere in the editor (steps 40–42)
  /** "92.7%" → 0.927; anything else is an error naming what was shown. */
  const percentage = (text, what) => {
    const m = /^(\d{1,3}(?:\.\d)?)%$/.exec(text.trim());
    if (!m || Number(m[1]) > 100) throw new Error(`${what} is not a percentage: "${text}"`);
    return Number(m[1]) / 100;
  };
  /** The lens over a Python line naming examples/pytorch/model.onnx: its run's result once step 40 made one. */
  const onnxLensPattern = () =>
    results.some((r) => r.ok && r.name.startsWith('40.'))
      ? /^robust \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? \(.+, ε=[\d.]+\) · clean \d+\.\d%(?: ± \d+\.\d| \[[\d.]+, [\d.]+\])? · /
      : /Attack \(no robustness result yet\)$/; // (after the shield icon)

  await step(
    '40. Attack This Model on an .onnx from the explorer: the panel shows clean and robust accuracy',
    async () => {
      const t0 = Date.now();
      await attackFromExplorer(['examples', 'pytorch', 'model.onnx']);
      await webview().locator('#toolbar').waitFor({ timeout: 30_000 });
      // This model's report, not the last one left on screen: the run takes a second, and a panel
      // still showing an earlier run's "Done" would be read before this one's report arrives.
      await webview().locator('h1', { hasText: 'model.onnx' }).waitFor({ timeout: 300_000 });
      await webview().locator('#run-status', { hasText: 'Done' }).waitFor({ timeout: 300_000 });
      const summary = webview().locator('#summary');
      const cleanText = await summary.locator('tbody tr', { hasText: 'Clean' }).locator('td.num').first().innerText();
      const robustText = await summary
        .locator('tbody tr.total', { hasText: 'Worst case over attacks' })
        .locator('td.num')
        .first()
        .innerText();
      const clean = percentage(cleanText, 'the clean accuracy');
      const robust = percentage(robustText, 'the robust accuracy');
      if (!(robust <= clean)) throw new Error(`robust ${robustText} is above clean ${cleanText}`);
      // The normalising CNN is no chance-level model: well above 10% on its own data.
      if (!(clean > 0.5)) throw new Error(`clean accuracy ${cleanText}: the ONNX model did not load as trained`);
      const data = [
        Number(await summary.getAttribute('data-clean')),
        Number(await summary.getAttribute('data-robust')),
      ];
      if (Math.abs(data[0] - clean) > 0.0005 || Math.abs(data[1] - robust) > 0.0005)
        throw new Error(`the shown ${cleanText} / ${robustText} differ from the report's ${data.join(' / ')}`);
      await hideToasts();
      await page.screenshot({ path: path.join(OUT, '40-onnx-attack-panel.png') });
      log(`ONNX model: clean ${cleanText}, robust ${robustText}; whole run ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  );

  await step('41. a Python file with torch.onnx.export(…, "model.onnx") shows the model\'s lens', async () => {
    // Alone on screen: the editor whose lenses are counted is the Python file, not a spec left open.
    await runFromPalette('View: Close All Editors');
    await openFromExplorer(['examples', 'pytorch', 'export_model.py']);
    const shown = lens(onnxLensPattern());
    await shown.waitFor({ timeout: 60_000 });
    const texts = await editor().locator('.codelens-decoration a').allInnerTexts();
    if (texts.length !== 1) throw new Error(`one lens expected, on the export line: ${texts.join(' | ')}`);
    // The lens sits above the export line: the next rendered line after the lens is that line.
    const line = (await editor().locator('.view-line', { hasText: 'torch.onnx.export' }).first().innerText()).replace(
      /\u00a0/g,
      ' ',
    );
    if (line !== EXPORT_LINE) throw new Error(`the export line reads "${line}"`);
    await page.screenshot({ path: path.join(OUT, '41-python-onnx-lens.png') });
    log(`Python lens: ${texts[0]}`);
  });

  await step('42. a notebook cell naming the .onnx (relative to the notebook) shows the lens', async () => {
    const row = await revealInExplorer(['examples', 'pytorch', 'notebooks', 'export.ipynb']);
    await row.click();
    // The code cell's editor: the one whose lines hold the export call.
    const notebook = page.locator('.notebook-editor');
    const cellEditor = notebook
      .locator('.monaco-editor', { has: page.locator('.view-line', { hasText: 'torch.onnx.export' }) })
      .first();
    await cellEditor.waitFor({ timeout: 30_000 });
    const cellLens = cellEditor.locator('.codelens-decoration a', { hasText: onnxLensPattern() }).first();
    try {
      await cellLens.waitFor({ timeout: 60_000 });
    } catch (err) {
      const hint = cellEditor.locator('.squiggly-hint').first();
      if (await hint.count()) {
        await hint.hover({ force: true });
        const hover = await page
          .locator('.monaco-hover')
          .first()
          .innerText()
          .catch(() => '');
        throw new Error(`no lens in the cell; its hint says: ${hover}`, { cause: err });
      }
      throw err;
    }
    const texts = await notebook.locator('.codelens-decoration a').allInnerTexts();
    if (texts.length !== 1) throw new Error(`one lens expected, in the code cell: ${texts.join(' | ')}`);
    const cellText = (await cellEditor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
    if (!cellText.includes('torch.onnx.export(model, x, "../model.onnx"'))
      throw new Error(`the lens is not in the cell that names the model: ${cellText}`);
    await page.screenshot({ path: path.join(OUT, '42-notebook-onnx-lens.png') });
    log(`notebook cell lens: ${texts[0]}`);
  });
}

try {
  await main();
} catch (err) {
  results.push({ name: 'harness', ok: false, err });
  console.error('[e2e] harness failed:', err);
} finally {
  await context?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await waitFor(() => server.exitCode !== null || server.signalCode !== null, 'code-server to exit', 10_000).catch(
      () => server.kill('SIGKILL'),
    );
  }
  if (process.env.UPDATE_SCREENSHOTS) updateMedia();
  if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  const failed = results.filter((r) => !r.ok);
  for (const f of failed) console.error(`[e2e] ${f.name}: ${f.err?.stack ?? f.err}`);
  console.log(`e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
  process.exit(failed.length || results.length === 0 ? 1 : 0);
}
