/**
 * The compartment hierarchy as the policy engine reads it: synchronous, so that evaluating a request is a pure
 * function (the identity store keeps the tree in memory and implements this). The tenancy is the root.
 */
export interface CompartmentTree {
  /** The parent's id; null for the root (the tenancy); undefined for an id that is not in the tree. */
  parentOf(id: string): string | null | undefined;
  /** The id of the active child of `parentId` called `name` (names compare case-insensitively, as OCI's). */
  childByName(parentId: string, name: string): string | undefined;
  nameOf(id: string): string | undefined;
  /**
   * A number that changes with every change to the tree: what was decided on the tree as it was may be reused while
   * it stays the same (service/authorizer.ts's decisions). Absent: nothing decided is kept.
   */
  readonly version?: number;
}

/**
 * OCI nests compartments at most 6 levels below the root; a walk up longer than this is a cycle in a broken tree,
 * and ends there rather than looping.
 */
const MAX_DEPTH = 64;

/** `id`, its parent, and so on up to the root; empty when `id` is not in the tree or does not reach a root. */
export function ancestorsOf(tree: CompartmentTree, id: string): string[] {
  const chain: string[] = [];
  let at: string | null | undefined = id;
  while (at !== null) {
    if (at === undefined || chain.length > MAX_DEPTH) return [];
    chain.push(at);
    at = tree.parentOf(at);
  }
  return chain;
}

/** An in-memory tree from a list of compartments: for tests, and for a server with a fixed set of compartments. */
export class StaticCompartmentTree implements CompartmentTree {
  private readonly parent = new Map<string, string | null>();
  private readonly name = new Map<string, string>();
  private readonly children = new Map<string, string>();

  constructor(compartments: { id: string; parentId: string | null; name: string }[]) {
    for (const c of compartments) {
      this.parent.set(c.id, c.parentId);
      this.name.set(c.id, c.name);
      if (c.parentId !== null) this.children.set(`${c.parentId}/${c.name.toLowerCase()}`, c.id);
    }
  }

  parentOf(id: string): string | null | undefined {
    return this.parent.get(id);
  }

  childByName(parentId: string, name: string): string | undefined {
    return this.children.get(`${parentId}/${name.toLowerCase()}`);
  }

  nameOf(id: string): string | undefined {
    return this.name.get(id);
  }
}
