import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { which } from './which.js';

const run = promisify(execFile);

/** One NVIDIA GPU of the host, as nvidia-smi names it. */
export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  memoryMiB: number;
}

export interface GpuReading {
  uuid: string;
  utilizationPercent: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
}

/** "0, GPU-abc, NVIDIA H100 80GB HBM3, 81559" lines; malformed lines are skipped. */
export function parseGpuList(csv: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const line of csv.split('\n')) {
    const f = line.split(',').map((x) => x.trim());
    if (f.length < 4 || !/^\d+$/.test(f[0]) || !f[1].startsWith('GPU-')) continue;
    out.push({ index: Number(f[0]), uuid: f[1], name: f[2], memoryMiB: Number(f[3]) || 0 });
  }
  return out;
}

export function parseGpuReadings(csv: string): GpuReading[] {
  const n = (x: string | undefined) => (x === undefined || !/^\d+(\.\d+)?$/.test(x) ? null : Number(x));
  const out: GpuReading[] = [];
  for (const line of csv.split('\n')) {
    const f = line.split(',').map((x) => x.trim());
    if (f.length < 4 || !f[0].startsWith('GPU-')) continue;
    out.push({ uuid: f[0], utilizationPercent: n(f[1]), memoryUsedMiB: n(f[2]), memoryTotalMiB: n(f[3]) });
  }
  return out;
}

/**
 * GPUs are found at start with nvidia-smi (the NVIDIA driver's own tool: if it cannot list a GPU, CUDA cannot use
 * it either). No nvidia-smi, or one that fails: no GPUs, and the reason is reported.
 */
export function detectGpus(command = 'nvidia-smi'): { gpus: GpuInfo[]; note: string | null } {
  const smi = which(command);
  if (!smi) return { gpus: [], note: 'nvidia-smi was not found: no GPUs, GPU shapes are refused' };
  try {
    const out = execFileSync(smi, ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gpus = parseGpuList(out);
    return { gpus, note: gpus.length === 0 ? 'nvidia-smi lists no GPUs: GPU shapes are refused' : null };
  } catch (e) {
    return { gpus: [], note: `nvidia-smi failed (${(e as Error).message.split('\n')[0]}): no GPUs, GPU shapes are refused` };
  }
}

/** Utilization and memory of every GPU, one nvidia-smi call for all of them. */
export async function readGpus(command = 'nvidia-smi'): Promise<GpuReading[]> {
  const smi = which(command);
  if (!smi) return [];
  try {
    const { stdout } = await run(smi, ['--query-gpu=uuid,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'], {
      timeout: 10_000,
    });
    return parseGpuReadings(stdout);
  } catch {
    return [];
  }
}

/**
 * Device nodes a GPU run needs inside the sandbox: the driver's control nodes and every /dev/nvidiaN (which GPU
 * a run uses is set by CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES naming its GPUs by UUID).
 */
export function gpuDeviceNodes(): string[] {
  try {
    return readdirSync('/dev')
      .filter((n) => /^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$/.test(n))
      .map((n) => `/dev/${n}`)
      .concat(existsSync('/dev/nvidia-caps') ? ['/dev/nvidia-caps'] : []);
  } catch {
    return [];
  }
}
