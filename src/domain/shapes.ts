import { invalid } from './errors.js';
import type { Resources } from './resources.js';

export type ShapeSeries = 'AMD_ROME' | 'INTEL_SKYLAKE' | 'NVIDIA_GPU' | 'GENERIC' | 'LEGACY' | 'ARM';

/**
 * A shape of the catalog. Locally one OCPU is one host CPU (on OCI an x86 OCPU is two vCPUs; here the unit that
 * matters is what the admission planner can hand out, and the host's CPUs are that unit).
 */
export interface ShapeDef {
  name: string;
  series: ShapeSeries;
  /**
   * Fixed shapes: what the shape is (whole numbers: OCI types a shape's coreCount and memoryInGBs as integers).
   * Flex shapes: the default OCPUs when no jobShapeConfigDetails is given, and the default memory per OCPU.
   */
  ocpus: number;
  memoryInGBs: number;
  gpus: number;
  flex?: {
    minOcpus: number;
    maxOcpus: number;
    minMemoryInGBs: number;
    maxMemoryInGBs: number;
    /** OCI flex shapes bound memory per OCPU. */
    maxMemoryPerOcpuInGBs: number;
  };
}

const flex = (name: string, series: ShapeSeries, maxOcpus: number, maxMem: number): ShapeDef => ({
  name,
  series,
  ocpus: 1,
  memoryInGBs: 16,
  gpus: 0,
  flex: { minOcpus: 0.125, maxOcpus: maxOcpus, minMemoryInGBs: 0.25, maxMemoryInGBs: maxMem, maxMemoryPerOcpuInGBs: 64 },
});
const fixed = (name: string, series: ShapeSeries, ocpus: number, mem: number, gpus = 0): ShapeDef => ({
  name,
  series,
  ocpus,
  memoryInGBs: mem,
  gpus,
});

/**
 * A light local shape for small tasks: 0.25 OCPU and 0.5 GB unless jobShapeConfigDetails asks for more. It is a
 * flex shape because a fixed shape's size is listed as its coreCount and memoryInGBs, which OCI's SDKs type as
 * integers (the Go SDK, so Terraform, rejects a fractional one): as a flex shape it lists its whole-number largest
 * form (1 OCPU, 2 GB) and the fractional size lives only in jobShapeConfigDetails, whose ocpus and memoryInGBs OCI
 * types as floats.
 */
const LOCAL_LIGHT: ShapeDef = {
  name: 'Local.Light',
  series: 'GENERIC',
  ocpus: 0.25,
  memoryInGBs: 2,
  gpus: 0,
  flex: { minOcpus: 0.125, maxOcpus: 1, minMemoryInGBs: 0.25, maxMemoryInGBs: 2, maxMemoryPerOcpuInGBs: 8 },
};

/** Default catalog: OCI's common Jobs shapes plus a light local shape for small tasks. */
export const DEFAULT_SHAPES: ShapeDef[] = [
  LOCAL_LIGHT,
  flex('VM.Standard.E3.Flex', 'AMD_ROME', 64, 1024),
  flex('VM.Standard.E4.Flex', 'AMD_ROME', 64, 1024),
  flex('VM.Standard.E5.Flex', 'AMD_ROME', 94, 1049),
  flex('VM.Standard3.Flex', 'INTEL_SKYLAKE', 32, 512),
  flex('VM.Optimized3.Flex', 'INTEL_SKYLAKE', 18, 256),
  flex('VM.Standard.A1.Flex', 'ARM', 80, 512),
  fixed('VM.Standard2.1', 'INTEL_SKYLAKE', 1, 15),
  fixed('VM.Standard2.2', 'INTEL_SKYLAKE', 2, 30),
  fixed('VM.Standard2.4', 'INTEL_SKYLAKE', 4, 60),
  fixed('VM.Standard2.8', 'INTEL_SKYLAKE', 8, 120),
  fixed('VM.GPU2.1', 'NVIDIA_GPU', 12, 72, 1),
  fixed('VM.GPU3.1', 'NVIDIA_GPU', 6, 90, 1),
  fixed('VM.GPU.A10.1', 'NVIDIA_GPU', 15, 240, 1),
  fixed('VM.GPU.A10.2', 'NVIDIA_GPU', 30, 480, 2),
  fixed('BM.GPU.A10.4', 'NVIDIA_GPU', 64, 1024, 4),
  fixed('BM.GPU.A100-v2.8', 'NVIDIA_GPU', 128, 2048, 8),
  fixed('BM.GPU.H100.8', 'NVIDIA_GPU', 112, 2048, 8),
];

/**
 * The default shape, in order of preference: OCI's usual Jobs shape (1 OCPU, 16 GB by default) where the machine has
 * room for it, else the light local one, which runs anywhere.
 */
export const DEFAULT_SHAPE_CHOICES = ['VM.Standard.E4.Flex', 'Local.Light'];

export interface ShapeConfigDetails {
  ocpus?: number;
  memoryInGBs?: number;
  cpuBaseline?: string;
}

/**
 * Resolves a shape name plus optional jobShapeConfigDetails to the resources a run needs. `field` is the wire path
 * used in error messages.
 */
export function resolveShape(
  catalog: readonly ShapeDef[],
  shapeName: string,
  config: ShapeConfigDetails | null | undefined,
  field: string,
): Resources {
  const shape = catalog.find((s) => s.name === shapeName);
  if (!shape) {
    const names = catalog.map((s) => s.name).join(', ');
    throw invalid(`${field}.shapeName`, `unknown shape '${shapeName}'; this server offers: ${names}`);
  }
  if (!shape.flex) {
    if (config && (config.ocpus !== undefined || config.memoryInGBs !== undefined)) {
      throw invalid(
        `${field}.jobShapeConfigDetails`,
        `shape config is only allowed for flex shapes; '${shapeName}' is a fixed shape`,
      );
    }
    return { cpus: shape.ocpus, memoryInGBs: shape.memoryInGBs, gpus: shape.gpus };
  }
  const f = shape.flex;
  const ocpus = config?.ocpus ?? shape.ocpus;
  const memory = config?.memoryInGBs ?? Math.min(f.maxMemoryInGBs, shape.memoryInGBs * ocpus);
  if (!(ocpus >= f.minOcpus && ocpus <= f.maxOcpus)) {
    throw invalid(
      `${field}.jobShapeConfigDetails.ocpus`,
      `must be between ${f.minOcpus} and ${f.maxOcpus} for ${shapeName}, got ${ocpus}`,
    );
  }
  if (!(memory >= f.minMemoryInGBs && memory <= f.maxMemoryInGBs)) {
    throw invalid(
      `${field}.jobShapeConfigDetails.memoryInGBs`,
      `must be between ${f.minMemoryInGBs} and ${f.maxMemoryInGBs} for ${shapeName}, got ${memory}`,
    );
  }
  if (memory > ocpus * f.maxMemoryPerOcpuInGBs) {
    throw invalid(
      `${field}.jobShapeConfigDetails.memoryInGBs`,
      `at most ${f.maxMemoryPerOcpuInGBs} GB per OCPU for ${shapeName}: ${ocpus} OCPUs allow ${ocpus * f.maxMemoryPerOcpuInGBs} GB, got ${memory}`,
    );
  }
  return { cpus: ocpus, memoryInGBs: memory, gpus: shape.gpus };
}

/**
 * Why a catalog shape cannot be listed the way OCI's SDKs read it, or null: what the shape lists as coreCount and
 * memoryInGBs (a fixed shape's size, a flex shape's largest form) must be whole numbers.
 */
export function unlistableShape(s: Pick<ShapeDef, 'ocpus' | 'memoryInGBs' | 'flex'>): { field: string; reason: string } | null {
  const listed: [string, number][] = s.flex
    ? [['flex.maxOcpus', s.flex.maxOcpus], ['flex.maxMemoryInGBs', s.flex.maxMemoryInGBs]]
    : [['ocpus', s.ocpus], ['memoryInGBs', s.memoryInGBs]];
  for (const [field, v] of listed) {
    if (!Number.isInteger(v)) {
      return {
        field,
        reason: `must be a whole number, got ${v}: OCI's SDKs type a shape's coreCount and memoryInGBs as integers; for a fractional size make the shape flex (a whole-number largest form, the fractional size as its default ocpus)`,
      };
    }
  }
  return null;
}
