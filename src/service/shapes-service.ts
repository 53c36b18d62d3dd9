import { invalid } from '../domain/errors.js';
import type { JobInfrastructureConfigurationDetails } from '../domain/job-config.js';
import { describe, fits, type Resources } from '../domain/resources.js';
import { DEFAULT_SHAPE_CHOICES, resolveShape, type ShapeDef } from '../domain/shapes.js';

/** What this server can give a shape: runnable or not (and why), and for a flex shape its largest form here. */
export interface ShapeHere {
  runnable: boolean;
  /** Why it can never run here: what it needs against what the server has. */
  reason?: string;
  /** Flex shapes: the most OCPUs and memory one run of the shape can have on this server. */
  maxOcpus?: number;
  maxMemoryInGBs?: number;
}

/** The shape catalog against this server's capacity: what a shape needs and whether it can ever run here. */
export class ShapesService {
  constructor(
    readonly catalog: readonly ShapeDef[],
    private readonly capacity: () => Resources,
    /** Shapes an engine that admits runs itself serves (a cluster's): the server's capacity does not bound them. */
    private readonly admittedElsewhere: (shapeName: string) => boolean = () => false,
  ) {}

  /** Resources for an infrastructure block; refuses shapes this server can never run. */
  resolve(infra: JobInfrastructureConfigurationDetails, field: string): Resources {
    const need = resolveShape(this.catalog, infra.shapeName!, infra.jobShapeConfigDetails, field);
    const total = this.capacity();
    if (!this.admittedElsewhere(infra.shapeName!) && !fits(need, total)) {
      throw invalid(
        `${field}.shapeName`,
        `${infra.shapeName} needs ${describe(need)} but this server has ${describe(total)} in all, so it could never run; pick a smaller shape (GET /jobShapes) or, for a flex shape, fewer ocpus/memoryInGBs in jobShapeConfigDetails`,
      );
    }
    return need;
  }

  canEverFit(need: Resources): boolean {
    return fits(need, this.capacity());
  }

  describeCapacity(): string {
    return describe(this.capacity());
  }

  /** Shapes whose smallest configuration fits this server. */
  runnable(): ShapeDef[] {
    return this.catalog.filter((s) => this.here(s).runnable);
  }

  /** Whether `s` can run on this server and, for a flex shape, how large it can be here. */
  here(s: ShapeDef): ShapeHere {
    if (this.admittedElsewhere(s.name)) return { runnable: true };
    const total = this.capacity();
    const min = s.flex
      ? { cpus: s.flex.minOcpus, memoryInGBs: s.flex.minMemoryInGBs, gpus: s.gpus }
      : { cpus: s.ocpus, memoryInGBs: s.memoryInGBs, gpus: s.gpus };
    if (!fits(min, total)) return { runnable: false, reason: `needs ${describe(min)}; this server has ${describe(total)} in all` };
    if (!s.flex) return { runnable: true };
    const maxOcpus = Math.min(s.flex.maxOcpus, total.cpus);
    const maxMemoryInGBs = Math.min(s.flex.maxMemoryInGBs, total.memoryInGBs, maxOcpus * s.flex.maxMemoryPerOcpuInGBs);
    return { runnable: true, maxOcpus: Math.floor(maxOcpus * 1000) / 1000, maxMemoryInGBs: Math.floor(maxMemoryInGBs * 100) / 100 };
  }

  /**
   * The shape a job gets when none is named (the CLI's `job create`, the console's form): the first of
   * DEFAULT_SHAPE_CHOICES in the catalog whose default form runs here, else the first shape that runs here. One
   * answer per server, given by GET /serverInfo, so the CLI, the console and the docs cannot disagree.
   */
  defaultShape(): string | null {
    const total = this.capacity();
    for (const name of DEFAULT_SHAPE_CHOICES) {
      const s = this.catalog.find((x) => x.name === name);
      if (s && fits(resolveShape(this.catalog, name, null, 'default'), total)) return name;
    }
    return this.runnable()[0]?.name ?? null;
  }
}
