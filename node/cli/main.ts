/**
 * The `orva` command: builds the command tree, runs it, and turns every
 * failure into a message on stderr and an exit code (errors.ts) in one place.
 */
import { Command, CommanderError } from 'commander';
import { channelsCommand } from './commands/channels.ts';
import { completionCommand } from './commands/completion.ts';
import { deployCommand } from './commands/deploy.ts';
import { executionsCommand } from './commands/executions.ts';
import { functionsCommand } from './commands/functions.ts';
import { invokeCommand } from './commands/invoke.ts';
import { keysCommand } from './commands/keys.ts';
import { loginCommand } from './commands/login.ts';
import { logsCommand } from './commands/logs.ts';
import { poolCommand } from './commands/pool.ts';
import { routesCommand } from './commands/routes.ts';
import { secretsCommand } from './commands/secrets.ts';
import { statusCommand } from './commands/status.ts';
import { diffCommand, rollbackCommand } from './commands/versions.ts';
import { describeFailure, EXIT } from './errors.ts';
import { createFactory, type Factory } from './factory.ts';
import { withExample } from './output.ts';
import { CLI_VERSION } from './version.ts';

export function buildProgram(f: Factory): Command {
  const program = new Command('orva')
    .description('Orva from the terminal: deploy, call, follow logs, roll back.\nServer and key: `orva login URL`, or ORVA_URL and ORVA_API_KEY.')
    .version(CLI_VERSION, '-v, --version')
    // `orva routes -o json` and `orva routes add … -o json`: an option belongs to the command it follows.
    .enablePositionalOptions()
    .addHelpText('afterAll', '\nExit codes: 0 ok, 1 error (API error, failed build, a call answered >= 400), 2 usage, 3 server unreachable, 4 authentication.');
  for (const make of [loginCommand, statusCommand, functionsCommand, deployCommand, invokeCommand, logsCommand, executionsCommand, rollbackCommand, diffCommand, secretsCommand, routesCommand, poolCommand, keysCommand, channelsCommand]) {
    program.addCommand(make(f));
  }
  program.addCommand(completionCommand(f, program));
  withExample(program, 'orva login http://localhost:8443', 'orva deploy ./hello', 'echo \'{"n":1}\' | orva invoke hello -d -', 'orva logs hello --follow');
  // Commands added with addCommand do not inherit these: set them on every one.
  const configure = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => f.io.out(s), writeErr: (s) => f.io.errRaw(s), outputError: (s, write) => write(f.io.paintErr('red', s)) });
    c.showHelpAfterError('(add --help for usage and an example)');
    c.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Run one command line (without node and the script); resolves to the exit code. */
export async function run(argv: string[], f: Factory): Promise<number> {
  const program = buildProgram(f);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const { lines, exitCode } = describeFailure(err);
    if (lines.length > 0) {
      f.io.err(f.io.paintErr('red', lines[0]));
      for (const l of lines.slice(1)) f.io.err(f.io.paintErr('dim', l));
    }
    return exitCode;
  }
}

export async function main(): Promise<void> {
  const f = createFactory({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  const code = await run(process.argv.slice(2), f);
  // Exit once stdout is drained: a pending keep-alive socket or stdin must not hold the process open.
  process.stdout.write('', () => process.exit(code));
}
