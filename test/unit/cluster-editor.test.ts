/**
 * The editor's side of the cluster (issue 15, README "Scale out"): the settings, the words it
 * shows (never a password), where a run goes when the cluster is unreachable, and then, against a
 * redis-server of the test's own with one worker process, an evaluation through the engine host's
 * cluster path (the coordinator thread the editor uses) stored as the editor stores it and equal to
 * the local run's report; a cancelled cluster run leaves no job in the queue. The Redis half skips
 * when redis-server is not installed.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import Module from 'node:module';
import * as path from 'node:path';
import { connectRedis } from '../../src/cluster/redis';
import { clusterStatus, type ClusterStatus } from '../../src/cluster/status';
import { Config, type SettingsSection } from '../../src/extension/config';
import {
  chooseRunPlace,
  clusterDisplayUrl,
  clusterStatusLines,
  clusterStatusText,
  clusterStatusTooltip,
  hidePassword,
  OPEN_SETTINGS,
  RUN_LOCALLY,
  unreachableMessage,
  unreachableReason,
} from '../../src/extension/cluster-view';
import type * as MonitorModule from '../../src/extension/cluster-monitor';
import { EngineHost } from '../../src/extension/engine-host';
import { attackJobFor } from '../../src/extension/jobs-from-settings';
import type { ProgressParams, StageParams } from '../../src/protocol/messages/worker';
import type { Report } from '../../src/protocol/report';
import { RunStore } from '../../src/store/runs';
import {
  assertBundlesBuilt,
  comparable,
  freePort,
  quietLog,
  SKIP,
  startRedis,
  startWorker,
  until,
} from './cluster-harness';

const ROOT = path.join(__dirname, '..', '..');
const MODEL = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');

interface ContributedSetting {
  default?: unknown;
  scope?: string;
  markdownDescription?: string;
}
const PROPERTIES = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, ContributedSetting> } };
  }
).contributes.configuration.properties;

function settings(overrides: Record<string, unknown> = {}): SettingsSection {
  return {
    get: <T>(key: string) => (key in overrides ? overrides[key] : PROPERTIES[`robustness.${key}`]?.default) as T,
    inspect: <T>(key: string) => ({ defaultValue: PROPERTIES[`robustness.${key}`]?.default as T }),
  };
}

// ---------------------------------------------------------------- without Redis

test('settings: the cluster is off by default; its URL is a machine setting that warns the server must not be public', () => {
  const url = PROPERTIES['robustness.cluster.redisUrl']!;
  assert.equal(url.default, '');
  assert.equal(url.scope, 'machine', 'a workspace must not point runs at a queue of its choosing');
  assert.match(url.markdownDescription ?? '', /must not be public/);
  assert.match(url.markdownDescription ?? '', /workspace you open cannot silently send/);
  assert.equal(PROPERTIES['robustness.cluster.shardSize']!.default, 250);

  const off = new Config(settings());
  assert.equal(off.clusterUrl, undefined);
  assert.equal(off.shardSize, 250);
  assert.deepEqual(off.problems, []);

  const on = new Config(
    settings({ 'cluster.redisUrl': '  rediss://lab:s3cret@queue.lab:6390/1 ', 'cluster.shardSize': 100 }),
  );
  assert.equal(on.clusterUrl, 'rediss://lab:s3cret@queue.lab:6390/1');
  assert.equal(on.shardSize, 100);
  assert.deepEqual(on.problems, []);
});

test('settings: a URL that does not parse falls back to off, and the warning hides its password', () => {
  const config = new Config(
    settings({ 'cluster.redisUrl': 'http://lab:hunter2@queue.lab:6379', 'cluster.shardSize': 0 }),
  );
  assert.equal(config.clusterUrl, undefined);
  assert.equal(config.shardSize, 250);
  assert.equal(config.problems.length, 2);
  assert.match(config.problems[0]!, /robustness\.cluster\.redisUrl is "http:\/\/lab:\*\*\*@queue\.lab:6379\/"/);
  assert.match(config.problems[0]!, /a redis:\/\/ or rediss:\/\/ \(TLS\) URL/);
  assert.match(
    config.problems[1]!,
    /robustness\.cluster\.shardSize is 0, but it must be a whole number from 1 to 10000/,
  );
  for (const problem of config.problems) assert.doesNotMatch(problem, /hunter2/);
});

test('the URL as shown: no password, and "(password hidden)" when it had one', () => {
  assert.equal(clusterDisplayUrl('redis://127.0.0.1:6390'), 'redis://127.0.0.1:6390');
  assert.equal(clusterDisplayUrl('redis://:hunter2@queue.lab:6379'), 'redis://queue.lab:6379 (password hidden)');
  assert.equal(
    clusterDisplayUrl('rediss://lab:p%40ss@queue.lab:6390/2'),
    'rediss://lab@queue.lab:6390/2 (password hidden)',
  );
  assert.equal(hidePassword('auth p@ss failed; p%40ss', 'rediss://lab:p%40ss@queue.lab'), 'auth *** failed; ***');
  assert.equal(hidePassword('nothing to hide', 'redis://queue.lab'), 'nothing to hide');
  const message = unreachableMessage('redis://:hunter2@10.0.0.5:6379', 'connect ETIMEDOUT (hunter2)');
  assert.equal(
    message,
    'Robustness Lab: the cluster at redis://10.0.0.5:6379 (password hidden) is unreachable: connect ETIMEDOUT (***)',
  );
  assert.equal(
    unreachableReason(
      new Error('cannot reach Redis at redis://:***@10.0.0.5:6379: connect ECONNREFUSED 10.0.0.5:6379'),
      'redis://:hunter2@10.0.0.5:6379',
    ),
    'connect ECONNREFUSED 10.0.0.5:6379',
  );
});

test('an unreachable cluster asks: Run Locally runs here, Open Settings and a dismissal start nothing', async () => {
  const url = 'redis://:hunter2@queue.lab:6379';
  const refused = async () => {
    throw new Error('cannot reach Redis at redis://:***@queue.lab:6379: connect ECONNREFUSED 10.1.2.3:6379');
  };
  const asked: string[][] = [];
  const answer =
    (choice: string | undefined) =>
    async (message: string, ...actions: string[]) => {
      asked.push([message, ...actions]);
      return choice;
    };
  assert.deepEqual(await chooseRunPlace(url, async () => undefined, answer(RUN_LOCALLY)), { place: 'cluster' });
  assert.equal(asked.length, 0, 'a reachable cluster asks nothing');

  assert.deepEqual(await chooseRunPlace(url, refused, answer(RUN_LOCALLY)), {
    place: 'local',
    reason: 'connect ECONNREFUSED 10.1.2.3:6379',
  });
  assert.deepEqual(asked[0], [
    'Robustness Lab: the cluster at redis://queue.lab:6379 (password hidden) is unreachable: connect ECONNREFUSED 10.1.2.3:6379',
    'Run Locally',
    'Open Settings',
  ]);
  assert.equal((await chooseRunPlace(url, refused, answer(OPEN_SETTINGS))).place, 'settings');
  assert.equal((await chooseRunPlace(url, refused, answer(undefined))).place, 'none');
  for (const [message] of asked) assert.doesNotMatch(message!, /hunter2/);
});

test('the status bar: workers connected and the queue depth; the log: the queues, then one line per worker', () => {
  const status: ClusterStatus = {
    workers: ['gpu-1', 'gpu-2', 'lab:4242'],
    shards: { waiting: 10, running: 3, failed: 1 },
    training: { waiting: 2, running: 0, failed: 0 },
  };
  assert.equal(clusterStatusText(status), '$(server) 3 workers · 12 queued · 3 running');
  const idle: ClusterStatus = {
    workers: ['w1'],
    shards: { waiting: 0, running: 0, failed: 0 },
    training: { waiting: 0, running: 0, failed: 0 },
  };
  assert.equal(clusterStatusText(idle), '$(server) 1 worker · 0 queued');
  assert.deepEqual(clusterStatusLines('redis://:pw@queue.lab:6379', status), [
    'cluster at redis://queue.lab:6379 (password hidden): 3 workers connected; shards: 10 waiting, 3 running, ' +
      '1 failed; training runs: 2 waiting, 0 running, 0 failed',
    '  worker gpu-1',
    '  worker gpu-2',
    '  worker lab:4242',
  ]);
  assert.equal(
    clusterStatusTooltip('redis://:pw@queue.lab:6379', 'connect ECONNREFUSED pw'),
    'Robustness Lab cluster at redis://queue.lab:6379 (password hidden) is unreachable: connect ECONNREFUSED *** — ' +
      'click for the workers',
  );
});

test('a real refused connection: the probe the editor runs before a cluster run gives the reason, no password', async () => {
  const port = await freePort();
  const url = `redis://:hunter2@127.0.0.1:${port}`;
  const asked: string[] = [];
  const result = await chooseRunPlace(
    url,
    async (target) => (await connectRedis(target, 2000)).disconnect(),
    async (message) => {
      asked.push(message);
      return RUN_LOCALLY;
    },
  );
  assert.equal(result.place, 'local');
  assert.match(result.reason ?? '', new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  assert.equal(
    asked[0],
    `Robustness Lab: the cluster at redis://127.0.0.1:${port} (password hidden) is unreachable: ${result.reason}`,
  );
});

// ---------------------------------------------------------------- with Redis

test(
  'the engine host on the cluster: a cancel empties the queue; a run stored as the editor stores it equals the local run; a cancel with Redis gone still ends',
  { skip: SKIP, timeout: 90_000 },
  async (t) => {
    assertBundlesBuilt();
    const redis = await startRedis();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-editor-cache-'));
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-editor-ws-'));
    const { lines, log } = quietLog();
    const host = new EngineHost(ROOT, log as never, () => 1, 1500);
    const job = attackJobFor(
      MODEL,
      folder,
      { norm: 'linf', eps: 0.05, steps: 5, restarts: 1, samples: 120, examples: 4, dataset: 'embedded' },
      'attack',
    );
    const cluster = { redis: redis.url, shardSize: 250 };
    let worker: ReturnType<typeof startWorker> | undefined;
    let redisUp = true;
    try {
      await t.test('cancelled while its shard waits (no worker yet): AbortError, and no job is left', async () => {
        const run = host.runOnCluster('evaluation-cancel', job, 'auto', cluster, () => {});
        await until('the shard enqueued', () => lines.some((l) => /run \w+: 1 shard of ≤ 250 images/.test(l)));
        assert.equal(host.isRunning('evaluation-cancel'), true);
        assert.equal(await host.cancel('evaluation-cancel'), true);
        await assert.rejects(run, { name: 'AbortError' });
        assert.equal(host.isRunning('evaluation-cancel'), false);
        const status = await clusterStatus(redis.url);
        assert.deepEqual(status.shards, { waiting: 0, running: 0, failed: 0 });
      });

      worker = startWorker(redis.url, 'editor-w1', cache);
      await until('the worker', () => /engine thread on redis:/.test(worker!.log()));
      const status = await clusterStatus(redis.url);
      assert.deepEqual(status.workers, ['editor-w1']);
      assert.equal(clusterStatusText(status), '$(server) 1 worker · 0 queued');

      const store = new RunStore(folder);
      const runAndStore = async (runId: string, onCluster: boolean) => {
        const progress: ProgressParams[] = [];
        const stages: StageParams[] = [];
        store.create({
          id: runId,
          kind: 'evaluation',
          model: 'model.json',
          created: new Date().toISOString(),
          config: job,
          status: 'running',
        });
        const report: Report = onCluster
          ? await host.runOnCluster(
              runId,
              job,
              'auto',
              cluster,
              (p) => progress.push(p),
              (s) => stages.push(s),
            )
          : await host.runAttack(runId, job, 'auto', (p) => progress.push(p), {
              keepPartial: true,
              onStage: (s) => stages.push(s),
            });
        store.finish(runId, report);
        return { report: store.readReport(runId), progress, stages };
      };
      const onCluster = await runAndStore('evaluation-cluster', true);
      const local = await runAndStore('evaluation-local', false);

      assert.equal(onCluster.report.n, 120);
      assert.deepEqual(comparable(onCluster.report), comparable(local.report));
      assert.equal(store.read('evaluation-cluster').status, 'done');
      assert.match(worker.log(), /ran run \w+ shard 0/);
      // Progress and stages streamed as from the local worker thread: the same stages, in order.
      assert.ok(onCluster.progress.length > 0, 'progress streamed from the worker');
      assert.ok(onCluster.progress.every((p) => p.runId === 'evaluation-cluster' && p.done <= p.total));
      assert.deepEqual(
        onCluster.stages.map((s) => [s.runId, s.index, s.label]),
        local.stages.map((s) => ['evaluation-cluster', s.index, s.label]),
      );
      assert.ok(onCluster.stages.length >= 2, `stages: ${onCluster.stages.map((s) => s.label).join(', ')}`);
      assert.deepEqual((await clusterStatus(redis.url)).shards, { waiting: 0, running: 0, failed: 0 });

      await t.test('cancelled with Redis gone: the run still ends, cancelled, after the grace time', async () => {
        worker!.child.kill('SIGTERM');
        await worker!.exited;
        worker = undefined;
        const run = host.runOnCluster('evaluation-gone', job, 'auto', cluster, () => {});
        const enqueued = lines.filter((l) => /1 shard of ≤ 250 images/.test(l)).length;
        await until(
          'the shard enqueued',
          () => lines.filter((l) => /1 shard of ≤ 250 images/.test(l)).length > enqueued,
        );
        await redis.stop();
        redisUp = false;
        const asked = Date.now();
        assert.equal(await host.cancel('evaluation-gone'), true);
        await assert.rejects(run, { name: 'AbortError', message: 'run evaluation-gone cancelled' });
        const waited = Date.now() - asked;
        assert.ok(waited >= 1400 && waited < 10_000, `ended after ${waited} ms`);
        assert.ok(lines.some((l) => /evaluation-gone: the cluster did not confirm the cancel within 1\.5 s/.test(l)));
        assert.equal(host.isRunning('evaluation-gone'), false);
      });
    } finally {
      await host.dispose();
      if (worker) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      if (redisUp) await redis.stop();
      fs.rmSync(cache, { recursive: true, force: true });
      fs.rmSync(folder, { recursive: true, force: true });
    }
  },
);

/**
 * The editor API the cluster's status-bar item uses, as a recording stand-in (plain Node has no
 * `vscode` module): status-bar items, the error message with its buttons, commands run.
 */
function standInEditor() {
  const items: Array<Record<string, unknown>> = [];
  const asked: string[][] = [];
  const executed: unknown[][] = [];
  let answer: string | undefined;
  const api = {
    StatusBarAlignment: { Left: 1, Right: 2 },
    ThemeColor: class {
      constructor(readonly id: string) {}
    },
    window: {
      createStatusBarItem: () => {
        const item: Record<string, unknown> = { visible: false };
        Object.assign(item, {
          show: () => (item.visible = true),
          hide: () => (item.visible = false),
          dispose: () => (item.disposed = true),
        });
        items.push(item);
        return item;
      },
      showErrorMessage: async (message: string, ...actions: string[]) => {
        asked.push([message, ...actions]);
        return answer;
      },
    },
    commands: { executeCommand: async (...args: unknown[]) => void executed.push(args) },
  };
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = loader._load;
  loader._load = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === 'vscode' ? api : load.call(this, request, ...rest);
  };
  return { items, asked, executed, answer: (choice: string | undefined) => (answer = choice) };
}

test(
  "the cluster's status-bar item and the check before a run, against a redis-server (the editor API stood in for)",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const editor = standInEditor();
    // Loaded after the stand-in is in place (a static import would load `vscode` first).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ClusterMonitor } = require('../../src/extension/cluster-monitor') as typeof MonitorModule;
    const lines: string[] = [];
    let shown = 0;
    const log = {
      info: (m: string) => void lines.push(`info ${m}`),
      warn: (m: string) => void lines.push(`warn ${m}`),
      show: () => void shown++,
    };
    const redis = await startRedis();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-editor-cache-'));
    const monitor = new ClusterMonitor(log as never);
    const item = editor.items[0]!;
    assert.equal(item.command, 'robustness.clusterStatus');
    let worker: ReturnType<typeof startWorker> | undefined;
    let redisUp = true;
    try {
      monitor.follow(redis.url);
      assert.equal(item.visible, true);
      await until('the first poll', () => item.text === '$(server) 0 workers · 0 queued', 10_000);
      worker = startWorker(redis.url, 'editor-w2', cache);
      await until('the worker in the status bar', () => item.text === '$(server) 1 worker · 0 queued', 20_000);
      assert.equal(item.tooltip, `Robustness Lab cluster at ${redis.url} — click for the workers`);

      await monitor.showStatus();
      assert.equal(shown, 1);
      assert.deepEqual(lines.slice(-2), [
        `info cluster at ${redis.url}: 1 worker connected; shards: 0 waiting, 0 running, 0 failed; ` +
          'training runs: 0 waiting, 0 running, 0 failed',
        'info   worker editor-w2',
      ]);
      assert.equal(await monitor.place(redis.url), 'cluster');
      assert.equal(editor.asked.length, 0);

      worker.child.kill('SIGTERM');
      await worker.exited;
      worker = undefined;
      await redis.stop();
      redisUp = false;
      await until('the outage in the status bar', () => item.text === '$(server) cluster unreachable', 15_000);
      assert.match(
        String(item.tooltip),
        /is unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+ — click for the workers$/,
      );
      assert.equal((item.backgroundColor as { id?: string } | undefined)?.id, 'statusBarItem.warningBackground');

      const secret = redis.url.replace('redis://', 'redis://:hunter2@');
      editor.answer('Open Settings');
      assert.equal(await monitor.place(secret), 'settings');
      assert.deepEqual(editor.executed, [['workbench.action.openSettings', 'robustness.cluster.redisUrl']]);
      editor.answer('Run Locally');
      assert.equal(await monitor.place(secret), 'local');
      assert.equal(editor.asked.length, 2);
      assert.match(
        editor.asked[1]![0]!,
        /^Robustness Lab: the cluster at redis:\/\/127\.0\.0\.1:\d+ \(password hidden\) is unreachable: connect ECONNREFUSED/,
      );
      assert.deepEqual(editor.asked[1]!.slice(1), ['Run Locally', 'Open Settings']);
      assert.ok(lines.some((l) => /^warn the cluster is unreachable \(.*\); running this job locally$/.test(l)));
      assert.equal(
        lines.filter((l) => / is unreachable: /.test(l) && l.startsWith('warn Robustness')).length,
        1,
        'one warning per outage',
      );
      for (const text of [...lines, ...editor.asked.flat(), String(item.tooltip)]) assert.doesNotMatch(text, /hunter2/);

      monitor.follow(undefined);
      assert.equal(item.visible, false);
    } finally {
      monitor.dispose();
      if (worker) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      if (redisUp) await redis.stop();
      fs.rmSync(cache, { recursive: true, force: true });
    }
  },
);
