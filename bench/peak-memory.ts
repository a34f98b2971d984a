/**
 * This process's peak resident memory in MB. Linux's getrusage maxrss survives fork and exec, so a
 * benchmark child started by a parent that already held large models would report the parent's
 * peak; /proc/self/status VmHWM belongs to the child's own address space. Elsewhere: maxRSS.
 */
import { readFileSync } from 'node:fs';

export function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1] !== undefined) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}
