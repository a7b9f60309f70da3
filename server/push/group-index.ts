// Which connections hold which group name. A commit looks up only the
// connections of its group, so fan-out costs O(listeners of that group),
// not O(all connections).

export class GroupIndex<C> {
  readonly #byName = new Map<string, Set<C>>();

  add(name: string, member: C): void {
    let members = this.#byName.get(name);
    if (!members) this.#byName.set(name, (members = new Set()));
    members.add(member);
  }

  remove(name: string, member: C): void {
    const members = this.#byName.get(name);
    if (!members) return;
    members.delete(member);
    // Drop empty sets so names that nobody holds any more cost no memory.
    if (members.size === 0) this.#byName.delete(name);
  }

  /** The connections holding `name`; iterate before anything can change the index. */
  members(name: string): ReadonlySet<C> | undefined {
    return this.#byName.get(name);
  }

  /** Number of distinct names held by at least one connection. */
  get size(): number {
    return this.#byName.size;
  }
}
