/**
 * The one owner of the terminal: which streams are TTYs, whether to colour
 * (only on a TTY, never with NO_COLOR or TERM=dumb), prompting, stdin, the
 * spinner. Commands never touch process.stdout directly, so tests can give
 * them other streams.
 */
import type { Readable, Writable } from 'node:stream';

export interface Streams {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class IO {
  readonly stdoutTTY: boolean;
  readonly stderrTTY: boolean;
  readonly stdinTTY: boolean;
  readonly color: boolean;
  private readonly errColor: boolean;

  constructor(private readonly s: Streams) {
    this.stdoutTTY = s.stdout.isTTY === true;
    this.stderrTTY = s.stderr.isTTY === true;
    this.stdinTTY = s.stdin.isTTY === true;
    const allowed = s.env.NO_COLOR === undefined && s.env.TERM !== 'dumb';
    this.color = allowed && this.stdoutTTY;
    this.errColor = allowed && this.stderrTTY;
  }

  out(text: string): void {
    this.s.stdout.write(text);
  }
  line(text = ''): void {
    this.s.stdout.write(`${text}\n`);
  }
  err(text: string): void {
    this.s.stderr.write(`${text}\n`);
  }
  errRaw(text: string): void {
    this.s.stderr.write(text);
  }
  writeBytes(data: Uint8Array): void {
    this.s.stdout.write(data);
  }

  /** SGR colour for stdout (`paint`) or stderr (`paintErr`); plain text when colour is off. */
  paint(code: Colour, text: string): string {
    return this.color ? `\x1b[${COLOURS[code]}m${text}\x1b[0m` : text;
  }
  paintErr(code: Colour, text: string): string {
    return this.errColor ? `\x1b[${COLOURS[code]}m${text}\x1b[0m` : text;
  }

  async readStdin(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.s.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(chunks);
  }

  /**
   * A value typed at the terminal, echo off when `hidden` (keys, secrets);
   * the whole of stdin when it is not a terminal (`echo $V | orva …`).
   */
  async secretInput(question: string, hidden = true): Promise<string> {
    if (!this.stdinTTY) return (await this.readStdin()).toString('utf8').replace(/\r?\n$/, '');
    this.s.stderr.write(question);
    const stdin = this.s.stdin;
    if (hidden) stdin.setRawMode?.(true);
    try {
      return await new Promise<string>((resolve, reject) => {
        let value = '';
        const onData = (c: Buffer) => {
          for (const ch of c.toString('utf8')) {
            if (ch === '\r' || ch === '\n') {
              stdin.off('data', onData);
              stdin.pause();
              this.s.stderr.write('\n');
              return resolve(value);
            }
            if (ch === '\u0003') {
              stdin.off('data', onData);
              return reject(new Error('cancelled'));
            }
            if (ch === '\u007f') value = value.slice(0, -1);
            else value += ch;
          }
        };
        stdin.on('data', onData);
        stdin.resume();
      });
    } finally {
      if (hidden) stdin.setRawMode?.(false);
    }
  }

  /** A spinner on stderr when it is a terminal; otherwise each status once, as a plain line. */
  spinner(initial: string): Spinner {
    let text = initial;
    if (!this.stderrTTY) {
      this.err(text);
      return {
        update: (t) => {
          if (t !== text) this.err((text = t));
        },
        log: (t) => this.s.stderr.write(t),
        stop: (final) => final && this.err(final),
      };
    }
    let i = 0;
    const draw = () => this.s.stderr.write(`\r\x1b[K${this.paintErr('cyan', SPIN[i++ % SPIN.length])} ${text}`);
    draw();
    const timer = setInterval(draw, 80);
    return {
      update: (t) => {
        text = t;
        draw();
      },
      log: (t) => {
        this.s.stderr.write(`\r\x1b[K${this.paintErr('dim', t)}`);
        draw();
      },
      stop: (final) => {
        clearInterval(timer);
        this.s.stderr.write(`\r\x1b[K${final ? `${final}\n` : ''}`);
      },
    };
  }
}

export interface Spinner {
  update(text: string): void;
  /** Log text printed above the spinner line. */
  log(text: string): void;
  stop(final?: string): void;
}

const COLOURS = { red: '31', green: '32', yellow: '33', cyan: '36', dim: '2', bold: '1' } as const;
export type Colour = keyof typeof COLOURS;
