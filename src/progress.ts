export interface Progress {
  /** Sets the number of finished units and an optional status text. */
  update(done: number, status?: string): void;
  finish(status?: string): void;
  /** A final line at the units finished so far (a run stopped early). */
  stop(status?: string): void;
}

export interface ProgressOptions {
  /** Draws one state; default: a text bar on stderr, redrawn in place on a terminal. */
  render?: (text: string, fraction: number, final: boolean) => void;
  /** Minimum time between redraws. */
  minIntervalMs?: number;
  /** Seconds left, where a better estimate than the units' pace is known (null: none yet). */
  eta?: () => number | null;
}

/** A progress bar with a rate and an ETA; the same object drives the terminal and notebook versions. */
export function progressBar(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const started = Date.now();
  const render = opts.render ?? terminalRender(process.stderr);
  const minInterval = opts.minIntervalMs ?? 250;
  let last = 0;
  let lastDone = 0;
  const draw = (done: number, status: string | undefined, final: boolean) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (Date.now() - started) / 1000;
    const left = final ? null : opts.eta ? opts.eta() : done > 0 ? (elapsed / done) * (total - done) : null;
    const eta = left !== null ? ` eta ${formatSeconds(left)}` : "";
    const text = `${label} ${done}/${total} ${formatSeconds(elapsed)}${eta}${status ? " · " + status : ""}`;
    render(text, fraction, final);
  };
  return {
    update(done, status) {
      lastDone = done;
      const now = Date.now();
      if (now - last < minInterval && done < total) return;
      last = now;
      draw(done, status, false);
    },
    finish(status) {
      draw(total, status, true);
    },
    stop(status) {
      draw(lastDone, status, true);
    },
  };
}

function terminalRender(stream: NodeJS.WriteStream): (text: string, fraction: number, final: boolean) => void {
  const width = 24;
  let lastLine = "";
  return (text, fraction, final) => {
    const filled = Math.round(fraction * width);
    const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
    else if (final || line !== lastLine) {
      // Not a terminal (CI logs, pipes): only the final line, to keep logs short.
      if (final) stream.write(line + "\n");
    }
    lastLine = line;
  };
}

export function formatSeconds(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)}s`;
  // Rounded to whole seconds first, so that 179.7 s reads 3m0s, not 2m60s.
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  return m < 60 ? `${m}m${whole % 60}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** `text` broken into lines of at most `width` characters (help texts), at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
