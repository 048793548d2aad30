/**
 * The CLI's command tree and terminal contract, run in-process with the
 * factory's streams replaced: no server needed.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { ApiError, describeFailure, EXIT, NetworkError } from '../../node/cli/errors.ts';
import { createFactory } from '../../node/cli/factory.ts';
import { buildProgram, run } from '../../node/cli/main.ts';
import { table } from '../../node/cli/output.ts';

/** Captured streams; `tty` marks stdout and stderr as terminals. */
function streams(env: NodeJS.ProcessEnv = {}, tty = false) {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const f = createFactory({ stdin: new PassThrough(), stdout, stderr, env });
  return { f, out: () => out, err: () => err };
}

function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}

describe('orva CLI (in-process)', () => {
  test('cli - every command has --help with an example, and every leaf command that prints has -o json', () => {
    const { f } = streams();
    const program = buildProgram(f);
    for (const c of allCommands(program)) {
      const name = c.name();
      let help = '';
      c.configureOutput({ writeOut: (s) => (help += s) });
      c.outputHelp();
      assert.match(help, /Examples?:\n {2}\$ orva/, `orva … ${name} --help has no example`);
      const leaf = c.commands.length === 0;
      if (leaf && name !== 'completion') assert.ok(c.options.some((o) => o.long === '--output'), `${name} lacks -o json`);
    }
  });

  test('cli - no colour when stdout is not a terminal or NO_COLOR is set; colour on a terminal', () => {
    const rows = [['a', 'b']];
    const piped = streams({}, false);
    table(piped.f.io, ['X', 'Y'], rows);
    assert.equal(piped.out(), 'a\tb\n', 'piped tables are tab-separated without a header');
    const noColor = streams({ NO_COLOR: '1' }, true);
    table(noColor.f.io, ['X', 'Y'], rows);
    assert.doesNotMatch(noColor.out(), /\x1b\[/);
    assert.match(noColor.out(), /^X {2}Y\n/);
    const tty = streams({}, true);
    table(tty.f.io, ['X', 'Y'], rows);
    assert.match(tty.out(), /\x1b\[1mX/);
  });

  test('cli - failures map to the documented exit codes with message, hint and request id', () => {
    const api = describeFailure(new ApiError(404, 'NOT_FOUND', 'function x not found', 'check the id or path', 'req_1', undefined));
    assert.equal(api.exitCode, EXIT.ERROR);
    assert.deepEqual(api.lines, ['error: function x not found (NOT_FOUND, HTTP 404)', 'hint: check the id or path', 'request id: req_1']);
    assert.equal(describeFailure(new ApiError(401, 'UNAUTHORIZED', 'no', undefined, undefined, undefined)).exitCode, EXIT.AUTH);
    assert.equal(describeFailure(new ApiError(403, 'FORBIDDEN', 'no', undefined, undefined, undefined)).exitCode, EXIT.AUTH);
    const net = describeFailure(new NetworkError('http://10.0.0.1:8443', new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })));
    assert.equal(net.exitCode, EXIT.UNREACHABLE);
    assert.match(net.lines[0], /could not reach http:\/\/10\.0\.0\.1:8443: ECONNREFUSED/);
  });

  test('cli - a command without a configured server says how to configure one, exit 4', async () => {
    const s = streams({ HOME: '/nonexistent-home' });
    assert.equal(await run(['functions', 'ls'], s.f), EXIT.AUTH);
    assert.match(s.err(), /no server configured/);
    assert.match(s.err(), /orva login URL/);
  });

  test('cli - completion scripts list the commands and their subcommands', async () => {
    const s = streams();
    assert.equal(await run(['completion', 'bash'], s.f), 0);
    assert.match(s.out(), /complete -o default -F _orva orva/);
    assert.match(s.out(), /opts="login status functions fn deploy invoke call logs/);
    assert.match(s.out(), /"functions"\|"functions "\*\) opts="ls list get create update rm delete/);
    const z = streams();
    assert.equal(await run(['completion', 'zsh'], z.f), 0);
    assert.match(z.out(), /^#compdef orva/);
    assert.equal(await run(['completion', 'fish'], streams().f), EXIT.USAGE);
  });
});
