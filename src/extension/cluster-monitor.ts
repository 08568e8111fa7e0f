/**
 * The cluster in the editor (robustness.cluster.redisUrl): a status-bar item with the workers
 * connected and the queue depth, asked of Redis every few seconds while the setting is set
 * (src/cluster/status.ts, as `worker --status`), and the check before a run that goes there.
 */
import * as vscode from 'vscode';
import { connectRedis } from '../cluster/redis';
import { clusterStatus, type ClusterStatus } from '../cluster/status';
import type { CommandId } from './command-ids';
import {
  CLUSTER_POLL_MS,
  CLUSTER_SETTING,
  chooseRunPlace,
  clusterDisplayUrl,
  clusterStatusLines,
  clusterStatusText,
  clusterStatusTooltip,
  unreachableReason,
  UNREACHABLE_STATUS_TEXT,
  type RunPlace,
} from './cluster-view';

/** How long the check before a run waits for Redis. */
const PROBE_TIMEOUT_MS = 3000;

export class ClusterMonitor implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private url: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private last: { status: ClusterStatus } | { error: string } | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 49);
    this.item.command = 'robustness.clusterStatus' satisfies CommandId;
  }

  /** Follows the setting: polls while a URL is set, hides the item when none is. */
  follow(url: string | undefined): void {
    if (url === this.url) return;
    this.url = url;
    this.last = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!url) {
      this.log.info('cluster: none (robustness.cluster.redisUrl is empty); runs stay on this machine');
      this.item.hide();
      return;
    }
    this.log.info(
      `cluster: Attack, Curve, Evaluate, spec runs and training runs (built-in data) go to ${clusterDisplayUrl(url)}`,
    );
    this.item.text = '$(server) cluster…';
    this.item.tooltip = clusterStatusTooltip(url);
    this.item.show();
    void this.poll();
    this.timer = setInterval(() => void this.poll(), CLUSTER_POLL_MS);
  }

  /** One look at the cluster; a look still under way is not doubled. */
  private async poll(): Promise<void> {
    const url = this.url;
    if (!url || this.polling) return;
    this.polling = true;
    try {
      const status = await clusterStatus(url);
      if (url !== this.url) return;
      if (this.last && 'error' in this.last)
        this.log.info(`the cluster is reachable again: ${status.workers.length} workers`);
      this.last = { status };
      this.item.text = clusterStatusText(status);
      this.item.tooltip = clusterStatusTooltip(url);
      this.item.backgroundColor = undefined;
    } catch (err) {
      if (url !== this.url) return;
      const error = unreachableReason(err, url);
      // Said once per outage, not every few seconds.
      if (!this.last || !('error' in this.last)) this.log.warn(clusterStatusTooltip(url, error).replace(/ — .*$/, ''));
      this.last = { error };
      this.item.text = UNREACHABLE_STATUS_TEXT;
      this.item.tooltip = clusterStatusTooltip(url, error);
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } finally {
      this.polling = false;
    }
  }

  /** The status bar's click: the queues and one line per worker, in the log, shown. */
  async showStatus(): Promise<void> {
    const url = this.url;
    if (!url) {
      this.log.info(`no cluster: ${CLUSTER_SETTING} is empty, so runs stay on this machine`);
    } else {
      try {
        for (const line of clusterStatusLines(url, await clusterStatus(url))) this.log.info(line);
      } catch (err) {
        this.log.warn(clusterStatusTooltip(url, unreachableReason(err, url)).replace(/ — .*$/, ''));
      }
    }
    this.log.show(true);
  }

  /**
   * Where a run goes with the cluster set: there when Redis answers, else after the user's
   * answer to "the cluster … is unreachable" ("Run Locally", "Open Settings", or neither).
   */
  async place(url: string): Promise<RunPlace> {
    const { place, reason } = await chooseRunPlace(
      url,
      async (target) => (await connectRedis(target, PROBE_TIMEOUT_MS)).disconnect(),
      (message, ...actions) => vscode.window.showErrorMessage(message, ...actions),
    );
    if (reason) {
      const then = { local: 'running this job locally', settings: 'settings opened', none: 'run not started' };
      this.log.warn(`the cluster is unreachable (${reason}); ${then[place as keyof typeof then] ?? place}`);
    }
    if (place === 'settings') await vscode.commands.executeCommand('workbench.action.openSettings', CLUSTER_SETTING);
    return place;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.item.dispose();
  }
}
