/**
 * How busy the machine is apart from the benchmark, so that a ratio measured while another process
 * (or the hypervisor) took CPU time is flagged instead of printed as if it were clean. Linux only
 * (/proc/stat); elsewhere the checks return null and nothing is flagged.
 *
 * Two signals:
 * - before a timed run, the share of CPU time used by anything while the benchmark itself sleeps
 *   (`busyWhileIdle`): other processes competing for the cores;
 * - over a timed run, the share of CPU time the hypervisor stole (`stealShare` of two snapshots):
 *   a virtual machine whose host is busy runs slower whoever is measured.
 */
import { readFileSync } from 'node:fs';

/** Cumulative CPU ticks of all cores from /proc/stat's first line. */
export interface CpuTicks {
  /** All ticks (user, nice, system, idle, iowait, irq, softirq, steal). */
  total: number;
  /** Idle and iowait ticks. */
  idle: number;
  /** Ticks stolen by the hypervisor. */
  steal: number;
}

/** Parses the aggregate `cpu` line of /proc/stat text; null when it is not there. */
export function parseCpuTicks(procStat: string): CpuTicks | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) return null;
  // user nice system idle iowait irq softirq steal (guest ticks are already inside user/nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, steal };
}

/** The machine's CPU ticks now, or null off Linux. */
export function cpuTicks(): CpuTicks | null {
  try {
    return parseCpuTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** Share of CPU time stolen by the hypervisor between two snapshots (0 when no time passed). */
export function stealShare(a: CpuTicks, b: CpuTicks): number {
  const dt = b.total - a.total;
  return dt > 0 ? (b.steal - a.steal) / dt : 0;
}

/**
 * Share of all cores' time that something other than this (sleeping) process used during `ms`
 * milliseconds, counting stolen time as busy; null off Linux.
 */
export function busyWhileIdle(ms = 1000): number | null {
  const a = cpuTicks();
  if (!a) return null;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = cpuTicks();
  if (!b) return null;
  const dt = b.total - a.total;
  return dt > 0 ? 1 - (b.idle - a.idle) / dt : 0;
}

/** Above these shares a run is flagged as measured on a busy machine. */
export const BUSY_LIMIT = 0.1;
export const STEAL_LIMIT = 0.05;

/**
 * The warning for one timed round (before: `busyWhileIdle` just before it; steal: `stealShare`
 * over it), or null when the machine looked quiet.
 */
export function loadWarning(before: number | null, steal: number | null): string | null {
  const why: string[] = [];
  if (before !== null && before > BUSY_LIMIT)
    why.push(`${(before * 100).toFixed(0)}% of the CPU was busy with other work just before it`);
  if (steal !== null && steal > STEAL_LIMIT)
    why.push(`the hypervisor stole ${(steal * 100).toFixed(0)}% of the CPU time during it`);
  return why.length ? `machine not quiet: ${why.join('; ')} (ratios of this round are less reliable)` : null;
}

/** How busy the machine was around one timed round, and the warning when that flags it. */
export interface RoundLoad {
  busyBefore: number | null;
  steal: number | null;
  warning: string | null;
}

/**
 * Call just before a timed round (it sleeps `idleMs` to sample what others use); the returned
 * function, called right after the round, gives the round's load and warning.
 */
export function roundLoadProbe(idleMs = 1000): () => RoundLoad {
  const busyBefore = busyWhileIdle(idleMs);
  const ticks0 = cpuTicks();
  return () => {
    const ticks1 = cpuTicks();
    const steal = ticks0 && ticks1 ? stealShare(ticks0, ticks1) : null;
    return { busyBefore, steal, warning: loadWarning(busyBefore, steal) };
  };
}
