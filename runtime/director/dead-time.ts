/**
 * What the instrument's time went to, as measured during a run: the time each level held the sequence (the
 * slowest acknowledgement of each trigger, in instrument time: simulated seconds for twins) and the phases each
 * player reported in its acks and completes (`phases`: wait, exposure, readout, move ...). The planned side comes
 * from the timing model (`donki estimate`); runtime/data/dead-time-report.ts puts the two side by side.
 */
export interface DeadTimeActual {
  /** Instrument time of the run (the Director's simulated time; 0 on hardware, where players report no dt). */
  instrumentS: number;
  /** Time each level held the sequence, summed over triggers. */
  levels: Record<string, number>;
  /** Per player: its level and the phases it reported, summed over triggers. */
  players: Record<string, { level: number; phases: Record<string, number> }>;
}

export class DeadTimeMeter {
  private readonly levels = new Map<number, number>();
  private readonly players = new Map<string, { level: number; phases: Record<string, number> }>();

  level(lvl: number, seconds: number): void {
    this.levels.set(lvl, (this.levels.get(lvl) ?? 0) + seconds);
  }

  action(player: string, lvl: number, phases: Record<string, number> | undefined): void {
    let p = this.players.get(player);
    if (!p) this.players.set(player, (p = { level: lvl, phases: {} }));
    if (!phases) return;
    for (const k in phases) p.phases[k] = (p.phases[k] ?? 0) + phases[k];
  }

  result(instrumentS: number): DeadTimeActual {
    return {
      instrumentS,
      levels: Object.fromEntries([...this.levels].sort((a, b) => a[0] - b[0]).map(([l, s]) => [String(l), s])),
      players: Object.fromEntries(this.players),
    };
  }
}
