import type { ShapeDef } from '../domain/shapes.js';

/**
 * Records to OCI wire models. The resource shapes live in the events room (events carry the resource as the API
 * returns it, and the service writes events); the API re-exports them so there is one mapping.
 */
export { projectWire, jobSummaryWire, jobWire, runSummaryWire, runWire } from '../events/wire.js';

export function shapeWire(s: ShapeDef) {
  return {
    name: s.name,
    coreCount: s.flex ? s.flex.maxOcpus : s.ocpus,
    memoryInGBs: s.flex ? s.flex.maxMemoryInGBs : s.memoryInGBs,
    shapeSeries: s.series,
    gpuCount: s.gpus,
    isFlex: Boolean(s.flex),
  };
}
