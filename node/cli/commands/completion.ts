/** `orva completion bash|zsh`: a completion script generated from the command tree itself. */
import { Argument, Command } from 'commander';
import type { Factory } from '../factory.ts';
import { withExample } from '../output.ts';

/** Every command path ("" for the root, "functions ls", …) with the words that may follow it. */
function paths(cmd: Command, prefix: string[] = []): Array<{ path: string; words: string[] }> {
  const words = [...cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]), ...cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)), '--help'];
  const out = [{ path: prefix.join(' '), words }];
  for (const c of cmd.commands) {
    out.push(...paths(c, [...prefix, c.name()]));
    for (const a of c.aliases()) out.push(...paths(c, [...prefix, a]));
  }
  return out;
}

export function bashScript(program: Command): string {
  // Deepest paths first: the first pattern that the typed words start with wins.
  const cases = paths(program)
    .sort((a, b) => b.path.split(' ').length - a.path.split(' ').length || b.path.length - a.path.length)
    .map(({ path, words }) => `    ${path === '' ? '*' : `"${path}"|"${path} "*`}) opts="${words.join(' ')}" ;;`)
    .join('\n');
  return `# orva completion for bash: source <(orva completion bash)
_orva() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed="" w
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) typed="\${typed:+$typed }$w" ;; esac
  done
  local opts
  case "$typed" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  if [ \${#COMPREPLY[@]} -eq 0 ]; then COMPREPLY=( $(compgen -f -- "$cur") ); fi
}
complete -o default -F _orva orva
`;
}

export function zshScript(program: Command): string {
  return `#compdef orva
# orva completion for zsh: source <(orva completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashScript(program)}`;
}

export function completionCommand(f: Factory, program: Command): Command {
  const cmd = new Command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => f.io.out(shell === 'bash' ? bashScript(program) : zshScript(program)));
  return withExample(cmd, 'orva completion bash > /etc/bash_completion.d/orva', 'source <(orva completion zsh)');
}
