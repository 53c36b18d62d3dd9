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
    /**
     * The cluster that runs multi-node jobs (one allocation across its nodes): the partition each of its shapes goes
     * to ('' for its default partition; undefined: the shape stays local); null: the server has no cluster.
     */
    private readonly cluster: { partitionOf(shapeName: string): string | undefined } | null = null,
  ) {}

  /**
   * Refuses, naming the field, the shapes of a multi-node job that cannot run as one allocation across nodes: every
   * group's shape must go to the cluster, and to one partition (a Slurm job's nodes are of one partition).
   */
  checkMultiNodeShapes(shapes: { shapeName: string; field: string }[], field: string): void {
    if (!this.cluster) {
      throw invalid(field, 'multi-node jobs run on a Slurm cluster, and this server has none configured (server config `slurm`, docs/slurm.md)');
    }
    let first: { partition: string; shapeName: string } | null = null;
    for (const s of shapes) {
      const partition = this.cluster.partitionOf(s.shapeName);
      if (partition === undefined) {
        throw invalid(s.field, `${s.shapeName} is not a shape of the Slurm cluster (server config slurm.shapes); a multi-node job's groups run there`);
      }
      if (first && partition !== first.partition) {
        throw invalid(s.field, `${s.shapeName} goes to Slurm partition '${partition || 'default'}' but ${first.shapeName} to '${first.partition || 'default'}': a multi-node job's nodes are of one partition`);
      }
      first ??= { partition, shapeName: s.shapeName };
    }
  }

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
