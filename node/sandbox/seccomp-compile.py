"""Compiles Orva's seccomp policies to BPF with libseccomp.

Run by the node (node/sandbox/seccomp.ts) once per process as
    /usr/bin/python3 -I seccomp-compile.py < spec.json > result.json
spec: {"arch": "x86_64"|"aarch64", "catalog": [names],
       "policies": {name: {"default": action, "rules": [rule, ...]}}}
action: {"type": "allow"|"kill"|"errno", "errno": n}
rule:   {"name": syscall, "action": action, "args": [[index, mask, value], ...]}
        (every arg condition must hold: (arg[index] & mask) == value)
result: {"bpf": {policy: base64}, "numbers": {name: {"x86_64": n|null, "aarch64": n|null}},
         "skipped": {policy: [names unknown on arch]}}

Only the node's own architecture is in each filter; a call made through any
other ABI (i386's int 0x80, x32) hits the bad-arch action: kill the process.
"""
import base64
import json
import sys
import tempfile

import seccomp

ARCHES = {'x86_64': seccomp.Arch.X86_64, 'aarch64': seccomp.Arch.AARCH64}


def action(a):
    kind = a['type']
    if kind == 'allow':
        return seccomp.ALLOW
    if kind == 'kill':
        return seccomp.KILL_PROCESS
    if kind == 'errno':
        return seccomp.ERRNO(a['errno'])
    raise ValueError(f'unknown action {kind}')


def number(arch, name):
    try:
        n = seccomp.resolve_syscall(ARCHES[arch], name)
    except Exception:
        return None
    # libseccomp returns negative pseudo-numbers for calls the arch lacks.
    return n if n >= 0 else None


def compile_policy(arch, policy, skipped):
    f = seccomp.SyscallFilter(defaction=action(policy['default']))
    # The filter object starts with the native arch; make sure that is the requested one, and only it.
    if seccomp.system_arch() & 0xFFFFFFFF != ARCHES[arch] & 0xFFFFFFFF:
        raise SystemExit(f'node arch {arch} differs from libseccomp native arch')
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    # bwrap sets no_new_privs itself before loading the program.
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    # A binary tree of syscall numbers instead of a linear list: ~9 comparisons per call instead of
    # up to ~300 — the runtimes make tens of thousands of calls while starting.
    f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    for rule in policy['rules']:
        name = rule['name']
        if number(arch, name) is None:
            skipped.append(name)
            continue
        # libseccomp refuses a rule whose action is the filter's default (EACCES): it would be a no-op.
        if rule['action'] == policy['default'] and not rule.get('args'):
            continue
        args = [seccomp.Arg(i, seccomp.MASKED_EQ, mask, value) for i, mask, value in rule.get('args', [])]
        f.add_rule(action(rule['action']), name, *args)
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


def main():
    spec = json.load(sys.stdin)
    arch = spec['arch']
    result = {'bpf': {}, 'skipped': {}, 'numbers': {}}
    for name, policy in spec['policies'].items():
        skipped = []
        result['bpf'][name] = base64.b64encode(compile_policy(arch, policy, skipped)).decode()
        result['skipped'][name] = sorted(set(skipped))
    for name in spec['catalog']:
        result['numbers'][name] = {a: number(a, name) for a in ARCHES}
    json.dump(result, sys.stdout)


main()
