/**
 * The editor's words for the cluster (robustness.cluster.redisUrl, README "Scale out"), kept free
 * of the editor so they are tested under plain Node: the URL as shown (never its password), the
 * status-bar text and the log lines of `worker --status`, and where a run goes when the cluster
 * is set: there, here after "Run Locally", or nowhere.
 */
import type { ClusterStatus } from '../cluster/status';

export const RUN_LOCALLY = 'Run Locally';
export const OPEN_SETTINGS = 'Open Settings';
/** The setting the "Open Settings" button shows. */
export const CLUSTER_SETTING = 'robustness.cluster.redisUrl';
/** How often the status bar asks the cluster for its workers and queues. */
export const CLUSTER_POLL_MS = 5000;

/**
 * The URL without its password: "redis://host:6379", or with a password
 * "redis://user@host:6379 (password hidden)".
 */
export function clusterDisplayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return parsed.toString();
    parsed.password = '';
    return `${parsed.toString()} (password hidden)`;
  } catch {
    // Not a URL (Config refuses those): hide whatever sits between ":" and "@".
    return /:[^:@/]*@/.test(url) ? `${url.replace(/:[^:@/]*@/, '@')} (password hidden)` : url;
  }
}

/** `text` with the URL's password, raw or percent-encoded, replaced by "***". */
export function hidePassword(text: string, url: string): string {
  let password: string;
  try {
    password = new URL(url).password;
  } catch {
    password = /:([^:@/]*)@/.exec(url)?.[1] ?? '';
  }
  if (!password) return text;
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // A malformed escape: the raw text is the only form there is.
  }
  return [password, decoded].reduce((t, p) => (p ? t.split(p).join('***') : t), text);
}

/**
 * Why Redis could not be reached, from the error of connectRedis or clusterStatus
 * ("cannot reach Redis at <url>: connect ECONNREFUSED 127.0.0.1:6390") without the URL it repeats.
 */
export function unreachableReason(err: unknown, url: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return hidePassword(message.replace(/^cannot reach Redis at \S+: /, ''), url);
}

/** "Robustness Lab: the cluster at redis://host:6379 is unreachable: <reason>". */
export function unreachableMessage(url: string, reason: string): string {
  return `Robustness Lab: the cluster at ${clusterDisplayUrl(url)} is unreachable: ${hidePassword(reason, url)}`;
}

export type RunPlace = 'cluster' | 'local' | 'settings' | 'none';

/**
 * Where a run goes while robustness.cluster.redisUrl is set: to the cluster when `probe` reaches
 * it; else the user is asked (`ask` shows the message with "Run Locally" and "Open Settings") and
 * the run goes here ("local"), to the settings ("settings"), or nowhere (dismissed: "none").
 */
export async function chooseRunPlace(
  url: string,
  probe: (url: string) => Promise<unknown>,
  ask: (message: string, ...actions: string[]) => PromiseLike<string | undefined>,
): Promise<{ place: RunPlace; reason?: string }> {
  try {
    await probe(url);
    return { place: 'cluster' };
  } catch (err) {
    const reason = unreachableReason(err, url);
    const choice = await ask(unreachableMessage(url, reason), RUN_LOCALLY, OPEN_SETTINGS);
    const place = choice === RUN_LOCALLY ? 'local' : choice === OPEN_SETTINGS ? 'settings' : 'none';
    return { place, reason };
  }
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The status-bar text: "$(server) 3 workers · 12 queued", "· 4 running" while shards run. */
export function clusterStatusText(status: ClusterStatus): string {
  const queued = status.shards.waiting + status.training.waiting;
  const running = status.shards.running + status.training.running;
  return (
    `$(server) ${count(status.workers.length, 'worker', 'workers')} · ${queued} queued` +
    (running ? ` · ${running} running` : '')
  );
}

/** The status-bar text while the cluster cannot be reached. */
export const UNREACHABLE_STATUS_TEXT = '$(server) cluster unreachable';

/** The status-bar tooltip: which cluster, and what a click does. */
export function clusterStatusTooltip(url: string, unreachable?: string): string {
  const where = `Robustness Lab cluster at ${clusterDisplayUrl(url)}`;
  return `${where}${unreachable ? ` is unreachable: ${hidePassword(unreachable, url)}` : ''} — click for the workers`;
}

/** What a click on the status bar writes to the log: the queues, then one line per worker. */
export function clusterStatusLines(url: string, status: ClusterStatus): string[] {
  const depth = (d: ClusterStatus['shards']) => `${d.waiting} waiting, ${d.running} running, ${d.failed} failed`;
  return [
    `cluster at ${clusterDisplayUrl(url)}: ${count(status.workers.length, 'worker', 'workers')} connected; ` +
      `shards: ${depth(status.shards)}; training runs: ${depth(status.training)}`,
    ...status.workers.map((name) => `  worker ${name}`),
  ];
}
