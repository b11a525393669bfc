/**
 * Who holds a lock: `<host>:<pid>:<random>`. A holder on this host whose process no longer exists
 * is provably gone (a killed run), and its locks are taken at once instead of waiting them out.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Whether a process with this pid exists here (EPERM: it exists, but is another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A new owner name for this process's locks. */
export function newOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** True when `owner` names a process on this host that is gone; false when alive, elsewhere, or not an owner name. */
export function ownerIsGone(owner: string): boolean {
  const parts = owner.split(':');
  if (parts.length < 3) return false;
  const pid = Number(parts[parts.length - 2]);
  const host = parts.slice(0, -2).join(':');
  return host === hostname() && Number.isInteger(pid) && pid > 0 && !processAlive(pid);
}

/** The host and pid of an owner name, for messages. */
export function describeOwner(owner: string): string {
  const parts = owner.split(':');
  return parts.length < 3 ? owner : `pid ${parts[parts.length - 2]} on ${parts.slice(0, -2).join(':')}`;
}
