/** A progress bar on a TTY (cli-progress), plain lines otherwise; both on stderr. */
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(label: string, done: number, total: number): void;
  /** A line that stays (a finished stage), printed above the bar. */
  note(line: string): void;
  stop(): void;
}

export function makeProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { update: () => {}, note: () => {}, stop: () => {} };
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: '{label} [{bar}] {value}/{total} · {duration}s',
        hideCursor: true,
        clearOnComplete: true,
      },
      Presets.shades_classic,
    );
    let started = false;
    let current = '';
    return {
      update(label, done, total) {
        if (!started || label !== current) {
          if (started) bar.stop();
          bar.start(total, done, { label });
          started = true;
          current = label;
        } else {
          bar.setTotal(total);
          bar.update(done, { label });
        }
      },
      note(line) {
        // The bar clears itself on stop; the next update starts it again below the line.
        if (started) bar.stop();
        started = false;
        stream.write(`${line}\n`);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastLabel = '';
  let lastTenth = -1;
  return {
    update(label, done, total) {
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (label !== lastLabel || tenth !== lastTenth) {
        stream.write(`${label}: ${done}/${total}\n`);
        lastLabel = label;
        lastTenth = tenth;
      }
    },
    note(line) {
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
