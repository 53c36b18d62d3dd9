import type { CompartmentRecord } from '../store/identity-store.js';

/**
 * The live compartment tree in memory, for the policy engine (it implements domain/policy's CompartmentTree: the
 * engine reads it synchronously). Loaded at start and kept current by every compartment write of IdentityService,
 * after its commit; only active compartments are in it. Replicas on PostgreSQL read it again every second
 * (IdentityService.refreshFromStore): another replica's compartment writes reach it that way.
 */
export class LiveCompartmentTree {
  private readonly parents = new Map<string, string | null>();
  private readonly names = new Map<string, string>();
  /** Bumped by every load and put: the authorizer's kept decisions are of the tree as it was (CompartmentTree.version). */
  version = 0;

  load(all: CompartmentRecord[]): void {
    this.version++;
    this.parents.clear();
    this.names.clear();
    for (const c of all) this.put(c);
  }

  /** A compartment as committed: added, renamed, or (deleted) taken out. */
  put(c: CompartmentRecord): void {
    this.version++;
    if (c.lifecycleState === 'DELETED') {
      this.parents.delete(c.id);
      this.names.delete(c.id);
      return;
    }
    this.parents.set(c.id, c.parentId);
    this.names.set(c.id, c.name);
  }

  /** The parent's id; null for the root (the tenancy); undefined for an id that is not in the tree. */
  parentOf(id: string): string | null | undefined {
    return this.parents.get(id);
  }

  /** The active child of `parentId` called `name`, compared case-insensitively as OCI does. */
  childByName(parentId: string, name: string): string | undefined {
    const want = name.toLowerCase();
    for (const [id, parent] of this.parents) if (parent === parentId && this.names.get(id)!.toLowerCase() === want) return id;
    return undefined;
  }

  nameOf(id: string): string | undefined {
    return this.names.get(id);
  }
}
