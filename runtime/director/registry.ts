import type { DeviceDecl, Hello, PlayerStatus, StreamDecl } from "../protocol/messages.ts";

/** A registered player as the Director sees it. */
export class PlayerEntry {
  routingId: Buffer;
  idKey: string;
  instance: string;
  level: number;
  streams: StreamDecl[];
  streamByName = new Map<string, StreamDecl>();
  device: DeviceDecl;
  host: string;
  pid: number;
  join: Hello["join"];
  enabled = true;
  alive = true;
  lastSeen: number;
  /** Run id this player has completed `pre` for (it is set up for that run). */
  readyFor: string | null = null;
  /** Outstanding pre request (seq) and its deadline. */
  preSeq: number | null = null;
  preDeadline = 0;
  /** Why the last pre-operation failed (undefined = it did not fail). */
  preFailed: string | undefined = undefined;
  /** Taking part in the current run's trigger sequence. */
  participating = false;
  /** Has taken part in a run of this Director (entries that never did are pruned once dead for a while). */
  everJoined = false;
  leaving = false;
  /** The last trigger this participating player was passed over (disabled or leaving mid-trigger): no rows of it. */
  skippedAt = 0;
  /** Level change requested for the next boundary / run. */
  pendingLevel: number | null = null;
  /** Latency of the last successful ack (level started -> ack), ms. */
  lastAckMs: number | null = null;

  constructor(
    readonly name: string,
    routingId: Buffer,
    hello: Hello,
    now: number,
  ) {
    this.routingId = routingId;
    this.idKey = routingId.toString("latin1");
    this.instance = hello.instance;
    this.level = hello.level;
    this.streams = hello.streams;
    for (const s of hello.streams) this.streamByName.set(s.name, s);
    this.device = hello.device;
    this.host = hello.host;
    this.pid = hello.pid;
    this.join = hello.join;
    this.lastSeen = now;
  }

  /** A new process took over the name (or the same one re-registered). Returns true if it is a new instance. */
  rebind(routingId: Buffer, hello: Hello, now: number): boolean {
    const isNew = hello.instance !== this.instance;
    this.routingId = routingId;
    this.idKey = routingId.toString("latin1");
    this.instance = hello.instance;
    this.host = hello.host;
    this.pid = hello.pid;
    this.join = hello.join;
    this.lastSeen = now;
    this.alive = true;
    this.leaving = false;
    if (isNew) {
      this.readyFor = null;
      this.preSeq = null;
      this.streams = hello.streams;
      this.streamByName = new Map(hello.streams.map((s) => [s.name, s]));
      this.device = hello.device;
      if (!this.participating) this.level = hello.level;
    }
    return isNew;
  }

  status(now: number): PlayerStatus {
    return {
      name: this.name,
      level: this.level,
      enabled: this.enabled,
      alive: this.alive,
      lastSeenMs: Math.round(now - this.lastSeen),
      host: this.host,
      pid: this.pid,
    };
  }
}

/** The Director is the registry: names to entries, routing ids to entries. */
export class PlayerRegistry {
  private readonly byName = new Map<string, PlayerEntry>();
  private readonly byId = new Map<string, PlayerEntry>();

  get(name: string): PlayerEntry | undefined {
    return this.byName.get(name);
  }

  byRoutingId(id: Buffer): PlayerEntry | undefined {
    return this.byId.get(id.toString("latin1"));
  }

  /** Add a player or rebind an existing name; returns the entry and whether it is a new process. */
  register(routingId: Buffer, hello: Hello, now: number): { entry: PlayerEntry; added: boolean; newInstance: boolean } {
    const existing = this.byName.get(hello.name);
    if (existing) {
      this.byId.delete(existing.idKey);
      const newInstance = existing.rebind(routingId, hello, now);
      this.byId.set(existing.idKey, existing);
      return { entry: existing, added: false, newInstance };
    }
    const e = new PlayerEntry(hello.name, routingId, hello, now);
    this.byName.set(e.name, e);
    this.byId.set(e.idKey, e);
    return { entry: e, added: true, newInstance: true };
  }

  remove(name: string): void {
    const e = this.byName.get(name);
    if (!e) return;
    this.byName.delete(name);
    if (this.byId.get(e.idKey) === e) this.byId.delete(e.idKey);
  }

  get size(): number {
    return this.byName.size;
  }

  all(): PlayerEntry[] {
    return [...this.byName.values()];
  }
}
