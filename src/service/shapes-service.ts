import { invalid } from '../domain/errors.js';
import type { JobInfrastructureConfigurationDetails } from '../domain/job-config.js';
import { describe, fits, type Resources } from '../domain/resources.js';
import { resolveShape, type ShapeDef } from '../domain/shapes.js';

/** The shape catalog against this server's capacity: what a shape needs and whether it can ever run here. */
export class ShapesService {
  constructor(
    readonly catalog: readonly ShapeDef[],
    private readonly capacity: () => Resources,
  ) {}

  /** Resources for an infrastructure block; refuses shapes this server can never run. */
  resolve(infra: JobInfrastructureConfigurationDetails, field: string): Resources {
    const need = resolveShape(this.catalog, infra.shapeName!, infra.jobShapeConfigDetails, field);
    const total = this.capacity();
    if (!fits(need, total)) {
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
    const total = this.capacity();
    return this.catalog.filter((s) => {
      const min = s.flex
        ? { cpus: s.flex.minOcpus, memoryInGBs: s.flex.minMemoryInGBs, gpus: s.gpus }
        : { cpus: s.ocpus, memoryInGBs: s.memoryInGBs, gpus: s.gpus };
      return fits(min, total);
    });
  }
}
