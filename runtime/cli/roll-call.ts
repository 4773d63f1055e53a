/**
 * The Director's roll call for the operator (donki director, or donki run with players on other hosts): which
 * players the scenario expects and how to start them, who has registered, whom it is still waiting for (reminded
 * now and then, with how to wait longer), and a clear line when a player with a name the scenario does not have
 * tries to register (admission refuses it; `donki ctl admit NAME` lets it in).
 */
import { didYouMean } from "../scenario/suggest.ts";

export interface ExpectedPlayer {
  name: string;
  level?: number;
  host: string;
}

export interface RollCallOptions {
  /** The Director's endpoints as reported at start. */
  endpoints: { player: string; control: string };
  /** The scenario file (for the `donki player --scenario` hint). */
  scenarioFile: string;
  /** How long the Director waits for them, seconds; and the option that changes it. */
  waitS: number;
  waitOption: string;
  /** Where lines go (stderr by default). */
  say?: (line: string) => void;
  /** Reminder period while waiting, ms (default 15 s). */
  remindMs?: number;
  /** The run token file players need (without CURVE). */
  tokenFile?: string;
  /** With CURVE: the Director's public key (Z85) the players need. */
  curveServerKey?: string;
}

export class RollCall {
  private readonly present = new Set<string>();
  private readonly say: (line: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = performance.now();
  private started = false;

  constructor(
    private readonly expected: ExpectedPlayer[],
    private readonly o: RollCallOptions,
  ) {
    this.say = o.say ?? ((l) => process.stderr.write(l + "\n"));
  }

  /** Print who is expected and how to start the remote ones; remind periodically until all are here. */
  begin(): void {
    const list = this.expected.map((p) => `${p.name} (${p.level !== undefined ? `level ${p.level}, ` : ""}${p.host === "local" ? "started here" : `on ${p.host}`})`);
    this.say(`donki director: expecting ${this.expected.length} player${this.expected.length === 1 ? "" : "s"}: ${list.join(", ")}`);
    const remote = this.expected.filter((p) => p.host !== "local");
    if (remote.length) {
      // quoted: a Z85 key has shell characters (& < > $ ...) and may begin with '-'
      const token = this.o.curveServerKey
        ? ` --curve-server-key '${this.o.curveServerKey}' --curve-key-file HOST_KEY_FILE`
        : this.o.tokenFile
          ? ` --token-file ${this.o.tokenFile}`
          : "";
      this.say(`donki director: start each on its host: donki player --scenario ${this.o.scenarioFile} --name NAME --director ${this.o.endpoints.player}${token}`);
    }
    this.say(`donki director: waiting up to ${this.o.waitS} s for them (${this.o.waitOption} SECONDS to change)`);
    this.timer = setInterval(() => this.remind(), this.o.remindMs ?? 15_000);
    this.timer.unref();
  }

  /** Feed the Director's events (RunOptions.onEvent). */
  onEvent(topic: string, body: Record<string, unknown>): void {
    if (topic === "player" && (body.event === "joined" || body.event === "back")) {
      const name = String(body.name);
      if (this.started || this.present.has(name)) return;
      this.present.add(name);
      const known = this.expected.some((p) => p.name === name);
      const missing = this.missing();
      if (!known) this.say(`donki director: '${name}' registered (admitted by the operator, not in the scenario)`);
      else if (missing.length) this.say(`donki director: '${name}' is here (${this.expected.length - missing.length} of ${this.expected.length}; waiting for ${missing.join(", ")})`);
      else {
        this.say(`donki director: '${name}' is here: all ${this.expected.length} players are here`);
        this.stopReminding();
      }
    } else if (topic === "protocol" && body.code === "not-admitted") {
      const name = String(body.peer);
      const names = this.expected.map((p) => p.name);
      this.say(
        `donki director: refused a player named '${name}': not a player of this scenario${didYouMean(name, names)} (expected: ${names.join(", ")}); ` +
          `to take it anyway: donki ctl admit ${name} --control ${this.o.endpoints.control}`,
      );
    } else if (topic === "run" && body.event === "started") {
      this.started = true;
      this.stopReminding();
    }
  }

  missing(): string[] {
    return this.expected.filter((p) => !this.present.has(p.name)).map((p) => p.name);
  }

  private remind(): void {
    const missing = this.missing();
    if (!missing.length || this.started) return this.stopReminding();
    const s = Math.round((performance.now() - this.t0) / 1000);
    this.say(`donki director: still waiting for ${missing.join(", ")} (${s} s of ${this.o.waitS} s; ${this.o.waitOption} SECONDS to wait longer)`);
  }

  stopReminding(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
