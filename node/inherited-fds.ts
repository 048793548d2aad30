/**
 * bwrap passes every descriptor without close-on-exec into the sandbox, so
 * anything the node inherited from whatever started it (a shell, a service
 * manager, a CI harness) would reach hostile code. Node and libuv open all of
 * their own descriptors with O_CLOEXEC; so at start the node closes every
 * descriptor above stdio that lacks it.
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

export function closeInheritedFds(): number[] {
  const closed: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let flags: number;
    try {
      flags = Number.parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8);
    } catch {
      continue; // the descriptor readdir itself used, already gone
    }
    if (Number.isNaN(flags) || flags & O_CLOEXEC) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {}
  }
  return closed;
}
