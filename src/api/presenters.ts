import type { ShapeDef } from '../domain/shapes.js';
import type { ShapeHere } from '../service/shapes-service.js';
import type { WorkRequestRecord } from '../store/work-request-store.js';

/**
 * Records to OCI wire models. The resource shapes live in the events room (events carry the resource as the API
 * returns it, and the service writes events); the API re-exports them so there is one mapping.
 */
export { projectWire, jobSummaryWire, jobWire, runSummaryWire, runWire } from '../events/wire.js';

/** A shape as OCI lists it (a flex shape's largest form), with what this server can run of it. */
export function shapeWire(s: ShapeDef, here: ShapeHere, defaultShape: string | null) {
  return {
    name: s.name,
    coreCount: s.flex ? s.flex.maxOcpus : s.ocpus,
    memoryInGBs: s.flex ? s.flex.maxMemoryInGBs : s.memoryInGBs,
    shapeSeries: s.series,
    gpuCount: s.gpus,
    isFlex: Boolean(s.flex),
    isDefault: s.name === defaultShape,
    isRunnableHere: here.runnable,
    notRunnableReason: here.reason,
    maxOcpusHere: here.maxOcpus,
    maxMemoryInGBsHere: here.maxMemoryInGBs,
  };
}

/**
 * A shape as a fast-launch config: locally every runnable shape starts without provisioning (OCI's fast launch keeps
 * warm capacity for a few shapes). Sized as ListJobShapes lists the shape (whole numbers, as OCI types them); the run's
 * network is the service's (managed egress), so a job needs no subnet.
 */
export function fastLaunchConfigWire(s: ShapeDef) {
  return {
    name: s.name,
    shapeName: s.name,
    coreCount: s.flex ? s.flex.maxOcpus : s.ocpus,
    memoryInGBs: s.flex ? s.flex.maxMemoryInGBs : s.memoryInGBs,
    shapeSeries: s.series,
    managedEgressSupport: 'SUPPORTED',
  };
}

/**
 * A work request as OCI's WorkRequest and WorkRequestSummary (the same fields), for Data Science and Logging alike
 * (both serve a work request's errors and logs apart).
 */
export function workRequestWire(w: WorkRequestRecord) {
  return {
    id: w.id,
    operationType: w.operationType,
    status: w.status,
    compartmentId: w.compartmentId,
    percentComplete: w.percentComplete,
    resources: w.resources,
    timeAccepted: w.timeAccepted,
    timeStarted: w.timeStarted ?? undefined,
    timeFinished: w.timeFinished ?? undefined,
  };
}
